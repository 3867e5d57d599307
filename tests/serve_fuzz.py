#!/usr/bin/python3
"""Random requests against a running relage serve: random methods, paths, content types and
bodies (cut, corrupted and random images, multipart with and without its end, nothing), then raw
garbage on sockets; the server must answer each with an HTTP status and stay healthy.
    serve_fuzz.py PORT IMAGE [REQUESTS] [SEED]"""
import http.client
import os
import random
import socket
import sys

port, image = int(sys.argv[1]), sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 200
random.seed(int(sys.argv[4]) if len(sys.argv) > 4 else 7)
png = open(image, "rb").read()
types = ["image/png", "image/jpeg", "application/octet-stream",
         "multipart/form-data; boundary=XyZ", "multipart/form-data", "text/plain", "",
         "image/png; charset=x", "IMAGE/PNG"]
paths = ["/v1/predict", "/v1/predict?dist=1", "/healthz", "/v1/model", "/", "/x",
         "/v1/predict/../healthz", "//", "/v1/predict?dist=%ff"]
methods = ["POST"] * 6 + ["GET", "PUT", "DELETE", "HEAD", "OPTIONS"]
codes = {}


def body_of():
    kind = random.random()
    if kind < 0.3:
        return png[:random.randint(0, len(png))]
    if kind < 0.5:
        return os.urandom(random.randint(0, 50000))
    if kind < 0.6:
        head = (b'--XyZ\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
                b"Content-Type: image/png\r\n\r\n")
        tail = b"\r\n--XyZ--\r\n" if random.random() < 0.5 else b""
        return head + png[:random.randint(0, len(png))] + tail
    if kind < 0.75:
        b = bytearray(png)
        for _ in range(random.randint(1, 50)):
            b[random.randrange(len(b))] = random.randrange(256)
        return bytes(b)
    return b""


for _ in range(n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t = random.choice(types)
    try:
        c.request(random.choice(methods), random.choice(paths), body=body_of(),
                  headers={"Content-Type": t} if t else {})
        r = c.getresponse()
        r.read()
        codes[r.status] = codes.get(r.status, 0) + 1
    except (BrokenPipeError, ConnectionResetError):  # refused before the body was sent
        codes["closed early"] = codes.get("closed early", 0) + 1
    c.close()
for _ in range(30):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(os.urandom(random.randint(1, 3000)))
    s.settimeout(5)
    try:
        s.recv(100)
    except OSError:
        pass
    s.close()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
c.request("GET", "/healthz")
r = c.getresponse()
assert r.status == 200, r.status
bad = [k for k in codes if isinstance(k, int) and k >= 500 and k != 503]
assert not bad, codes
print("serve_fuzz:", dict(sorted(codes.items(), key=str)), "then healthy")
