"""Stand-ins for Astra's connection pieces, for tests of secure connect bundles.

- MetadataService(cert, key, ca, answer): the metadata service: HTTPS with mutual TLS (the
  client must present a certificate signed by `ca`), GET /metadata answers `answer()` as JSON;
  `requests` records (path, peer certificate) per request.
- metadata_answer(host_ids, sni_port): the service's answer naming the SNI proxy 127.0.0.1:port.
- make_bundle(path, service_port, ca, cert, key): a secure connect bundle zip with the entries the
  drivers read (config.json, ca.crt, cert, key).
- SniProxy(cert, key, ca, routes): the SNI proxy: terminates mutual TLS and forwards the bytes to
  the plain node that `routes` maps the TLS server name (a host id) to; a name it does not know
  fails the handshake. `server_names` records every name asked for.
"""
import http.server
import json
import socket
import ssl
import threading
import zipfile


class MetadataService:
    def __init__(self, cert, key, ca, answer):
        self.requests = []
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                service.requests.append((self.path, self.connection.getpeercert()))
                if self.path != "/metadata":
                    self.send_error(404)
                    return
                body = json.dumps(answer()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def metadata_answer(host_ids, sni_port, local_dc="dc1"):
    return {"version": 1, "region": "local",
            "contact_info": {"type": "sni_proxy", "local_dc": local_dc,
                             "contact_points": list(host_ids),
                             "sni_proxy_address": "127.0.0.1:%d" % sni_port}}


def make_bundle(path, service_port, ca, cert, key):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", json.dumps({
            "host": "127.0.0.1", "port": service_port, "keyspace": "ks", "localDC": "dc1",
            "caCertLocation": "./ca.crt", "keyLocation": "./key", "certLocation": "./cert"}))
        z.write(ca, "ca.crt")
        z.write(cert, "cert")
        z.write(key, "key")


class SniProxy:
    def __init__(self, cert, key, ca, routes):
        self.routes = dict(routes)  # host id -> (host, port) of a plain node
        self.server_names = []
        self._closed = False
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(ca)
        ctx.verify_mode = ssl.CERT_REQUIRED

        def on_sni(sock, name, _ctx):
            self.server_names.append(name)
            if name not in self.routes:
                return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
            sock.routed_to = self.routes[name]
            return None

        ctx.sni_callback = on_sni
        self.ctx = ctx
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = "127.0.0.1", self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._closed:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw):
        try:
            tls = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        where = getattr(tls, "routed_to", None)
        if where is None:  # no SNI at all
            tls.close()
            return
        try:
            upstream = socket.create_connection(where)
        except OSError:
            tls.close()
            return
        threading.Thread(target=_pump, args=(upstream, tls), daemon=True).start()
        _pump(tls, upstream)

    def stop(self):
        self._closed = True
        self.listener.close()


def _pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
