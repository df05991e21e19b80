# test/lib/gateway.sh: start and stop a fresh `tusk serve` for the shell test
# scripts (test/clients.sh, test/conformance/run.sh). Source it after setting
#   ME        the script's name, for messages
#   PY        a python3 (to pick a free port)
#   TUSK_BIN  the gateway binary
#   T         the script's temp dir (the data dir is $T/data)
#   LOG       the server log file
#   AK, SK    the admin access key and secret the gateway starts with
# start_server sets PORT, SPID and EP; stop_server stops it.

free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

server_alive() { [[ -n ${SPID:-} ]] && kill -0 "$SPID" 2>/dev/null; }

# stop_server: SIGTERM, then SIGKILL after 5 s.
stop_server() {
	if server_alive; then
		kill -TERM "$SPID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
	fi
	SPID=""
}

# start_server: a fresh data dir on a free port; retries when the port was
# taken between picking and binding.
start_server() {
	local attempt i
	for attempt in 1 2 3; do
		PORT=$(free_port)
		rm -rf "$T/data"
		TUSK_ACCESS_KEY=$AK TUSK_SECRET_KEY=$SK "$TUSK_BIN" serve --addr "127.0.0.1:$PORT" \
			--data-dir "$T/data" >"$LOG" 2>&1 &
		SPID=$!
		for i in $(seq 150); do
			if curl -fsS -m 1 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
				EP=http://127.0.0.1:$PORT
				return 0
			fi
			server_alive || break
			sleep 0.1
		done
		if server_alive; then
			echo "$ME: gateway not healthy on 127.0.0.1:$PORT after 15s; log tail:" >&2
			tail -n 30 "$LOG" >&2
			exit 1
		fi
		wait "$SPID" 2>/dev/null || true
		SPID=""
		grep -qi 'address already in use' "$LOG" || break
	done
	echo "$ME: gateway failed to start ($TUSK_BIN); log tail:" >&2
	tail -n 30 "$LOG" >&2
	exit 1
}
