"""A raw SMTP client for exact dialogues: every byte it sends is the
test's, every reply line is read as it comes."""
import select
import socket


class Raw:
    def __init__(self, ip, port, src="127.0.0.1", timeout=20, greet=True):
        self.s = socket.create_connection((ip, port), timeout=timeout,
                                          source_address=(src, 0))
        self.buf = b""
        self.greeting = self.reply() if greet else None

    def send(self, data):
        """Bytes as they are; a str gets CRLF appended."""
        if isinstance(data, str):
            data = data.encode() + b"\r\n"
        self.s.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            try:
                data = self.s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                data = b""
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """The lines of one reply ([] when the connection closed)."""
        lines = []
        while True:
            line = self.line()
            if line is None:
                return lines
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    def last(self):
        """The last line of the next reply, or None at the end."""
        r = self.reply()
        return r[-1] if r else None

    def cmd(self, data):
        """Send; the last line of its reply."""
        self.send(data)
        return self.last()

    def code(self, data):
        r = self.cmd(data)
        return r[:3] if r else None

    def silent(self, wait=0.3):
        """True when nothing is waiting to be read."""
        if self.buf:
            return False
        return not select.select([self.s], [], [], wait)[0]

    def closed(self, wait=5):
        """True when the server closed the connection (after any reply
        lines still to come, which are dropped)."""
        self.s.settimeout(wait)
        try:
            while True:
                data = self.s.recv(65536)
                if not data:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()
