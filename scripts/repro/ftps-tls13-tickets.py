#!/usr/bin/env python3
"""Minimal FTPS server (AUTH TLS, PROT P, EPSV, STOR only) to show why curl's protected uploads over
TLS 1.3 may arrive cut: curl closes the data connection without reading the server's TLS 1.3
NewSessionTicket messages, so its kernel resets the connection (unread data at close) and drops the
upload bytes still in its send buffer, close_notify included. A server that reads a little late
(here: READ_DELAY_MS) then gets a reset, not all bytes and no close_notify.

usage: ftps-tls13-tickets.py PORT CERT KEY TICKETS READ_DELAY_MS   (prints one line per upload)
"""
import socket, ssl, sys, time

port, cert, key, tickets, delay_ms = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.num_tickets = tickets  # TLS 1.3 NewSessionTicket messages sent after each handshake

srv = socket.create_server(("127.0.0.1", port))
while True:
    ctl, _ = srv.accept()
    f = ctl.makefile("rwb", buffering=0)
    send = lambda line: f.write((line + "\r\n").encode())
    send("220 repro")
    data_srv = None
    while True:
        line = f.readline()
        if not line:
            break
        verb, _, arg = line.decode().strip().partition(" ")
        verb = verb.upper()
        if verb == "AUTH":
            send("234 go")
            ctl = ctx.wrap_socket(ctl, server_side=True)
            f = ctl.makefile("rwb", buffering=0)
        elif verb == "USER": send("331 pass")
        elif verb in ("PASS",): send("230 in")
        elif verb in ("PBSZ", "PROT", "TYPE"): send("200 ok")
        elif verb == "PWD": send('257 "/"')
        elif verb == "EPSV":
            data_srv = socket.create_server(("127.0.0.1", 0))
            send(f"229 Entering Extended Passive Mode (|||{data_srv.getsockname()[1]}|)")
        elif verb == "STOR":
            send("150 go")
            raw, _ = data_srv.accept()
            data_srv.close()
            d = ctx.wrap_socket(raw, server_side=True, suppress_ragged_eofs=False)
            time.sleep(delay_ms / 1000)  # a server that reads a little late (a busy event loop)
            got, end = 0, "close_notify"
            try:
                while True:
                    chunk = d.recv(1 << 20)
                    if not chunk:
                        break
                    got += len(chunk)
            except (ssl.SSLError, OSError) as e:
                end = type(e).__name__
            print(f"tickets={tickets} delay={delay_ms}ms bytes={got} end={end}", flush=True)
            try:
                d.close()
            except OSError:
                pass
            send("226 ok" if end == "close_notify" else "426 cut")
        elif verb == "QUIT":
            send("221 bye")
            break
        else:
            send("502 no")
    try:
        ctl.close()
    except OSError:
        pass
