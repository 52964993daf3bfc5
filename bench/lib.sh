# bench/lib.sh - shared by the benchmark scripts (sourced; needs $B, $run
# and $pids set by the caller).

# A free TCP port on loopback.
bench_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts one chorusd on loopback with its Unix socket in $run; sets $port
# and adds the daemon to $pids; waits until the socket is there.
bench_start_chorusd() {
	port=$(bench_free_port)
	printf 'Spread_Segment 127.0.0.255:%s {\n\tlocalhost 127.0.0.1\n}\nUnixSocketDir = "%s"\n' \
		"$port" "$run" > "$run/spread.conf"
	"$B/chorusd" -c "$run/spread.conf" -n localhost 2>"$run/chorusd.log" &
	pids="$pids $!"
	i=0
	until [ -S "$run/$port" ] || [ $i -gt 200 ]; do sleep 0.05; i=$((i + 1)); done
}
