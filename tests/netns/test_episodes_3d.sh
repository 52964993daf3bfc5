#!/bin/sh
# Eleven fault episodes on three daemons in network namespaces, two
# clients on each (tests/netns/episodes.sh: what each episode does and
# checks). Skips, with the reason, where namespaces cannot be made or the
# daemons do not form one configuration.
top=$(cd "$(dirname "$0")/../.." && pwd)
exec sh "$top/tests/netns/episodes.sh" --daemons 3 --clients 2 --name netns.3d \
	cut:3 kill:2 loss asym:1:2 pause:3 split:1 cut:1 kill:3 pause:1 asym:1:3 loss
