#!/bin/sh
# Eleven fault episodes on five daemons in network namespaces, one client
# on each (tests/netns/episodes.sh: what each episode does and checks),
# among them partitions with two daemons on the small side. Skips, with
# the reason, where namespaces cannot be made or the daemons do not form
# one configuration.
top=$(cd "$(dirname "$0")/../.." && pwd)
exec sh "$top/tests/netns/episodes.sh" --daemons 5 --clients 1 --name netns.5d \
	split:4,5 kill:5 loss asym:2:4 pause:2 cut:1 kill:1 split:1,2 pause:5 asym:1:5 cut:3
