/*
 * server.c: the C reference for the comparison suite, the plainest epoll
 * server there is. One thread, level-triggered epoll, accept4 until EAGAIN,
 * one 64 KiB read buffer for every connection, send with MSG_NOSIGNAL,
 * TCP_NODELAY as Go sets it.
 *
 *   server -addr 127.0.0.1:7000 -mode echo|http
 *
 * echo: writes back every byte it reads.
 * http: the same minimal responder as benchmarks/internal/plaintext: split
 * the input at each "\r\n\r\n", answer every complete request with one fixed
 * response (13-byte body) in one send, keep a partial request for the next
 * read, close after a request with "Connection: close" or HTTP/1.0.
 *
 * Output the kernel refuses (EAGAIN) is kept per connection and reading
 * stops until it drains. Prints "listening ADDR" when ready; runs until
 * killed. Build: gcc -O2 -o server server.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { BUFSZ = 64 << 10, BATCH = 64, MAXEV = 256 };

struct conn {
	char *out;           /* output the kernel refused */
	size_t outlen, outoff;
	char *in;            /* unconsumed input (http: a partial request) */
	size_t inlen;
	int closing;         /* close once out drains */
};

static struct conn **conns; /* indexed by fd */
static size_t nconns;
static char rbuf[BUFSZ];
static int ep, lfd, http_mode, listener_paused;

/* ---- the HTTP responses, rebuilt when the second changes ---- */

static char resp_batch[BATCH * 256], resp_close[256];
static size_t resp_len, resp_close_len;
static time_t resp_sec = -1;

static void build_responses(void)
{
	time_t now = time(NULL);
	if (now == resp_sec)
		return;
	struct tm tm;
	char date[64];
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	const char *head = "HTTP/1.1 200 OK\r\nServer: bench\r\nDate: ";
	const char *tail = "\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n";
	resp_len = (size_t)snprintf(resp_batch, 256, "%s%s%s\r\nHello, World!", head, date, tail);
	for (int i = 1; i < BATCH; i++)
		memcpy(resp_batch + i * resp_len, resp_batch, resp_len);
	resp_close_len = (size_t)snprintf(resp_close, sizeof resp_close,
		"%s%s%sConnection: close\r\n\r\nHello, World!", head, date, tail);
	resp_sec = now;
}

static int has_prefix_fold(const char *p, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && strncasecmp(p, prefix, n) == 0;
}

/* wants_close: "Connection: close", or HTTP/1.0. req ends in CRLFCRLF. */
static int wants_close(const char *req, size_t len)
{
	const char *nl = memchr(req, '\n', len);
	size_t i = (size_t)(nl - req) + 1;
	if (i >= 10 && memcmp(nl - 9, "HTTP/1.0\r", 9) == 0)
		return 1;
	while (i + 11 < len) {
		if (has_prefix_fold(req + i, len - i, "connection:")) {
			size_t j = i + 11;
			while (j < len && (req[j] == ' ' || req[j] == '\t'))
				j++;
			return has_prefix_fold(req + j, len - j, "close");
		}
		nl = memchr(req + i, '\n', len - i);
		if (!nl)
			break;
		i = (size_t)(nl - req) + 1;
	}
	return 0;
}

/* scan counts complete requests at the start of in; see plaintext.Scan. */
static size_t scan(const char *in, size_t len, int *n, int *closing)
{
	size_t used = 0;
	*n = 0, *closing = 0;
	for (;;) {
		const char *end = memmem(in + used, len - used, "\r\n\r\n", 4);
		if (!end)
			return used;
		size_t reqlen = (size_t)(end - (in + used)) + 4;
		(*n)++;
		if (wants_close(in + used, reqlen)) {
			*closing = 1;
			return used + reqlen;
		}
		used += reqlen;
	}
}

/* ---- connections ---- */

static void set_events(int fd, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void conn_close(int fd)
{
	struct conn *c = conns[fd];
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	free(c->out);
	free(c->in);
	free(c);
	conns[fd] = NULL;
	if (listener_paused) { /* a descriptor is free again: accept more */
		listener_paused = 0;
		set_events(lfd, EPOLLIN);
	}
}

/* conn_send sends p, keeping what the kernel refuses. -1: the peer is gone. */
static int conn_send(int fd, struct conn *c, const char *p, size_t n)
{
	ssize_t w = 0;
	if (c->outlen == c->outoff) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN)
			return -1;
		if (w < 0)
			w = 0;
		if ((size_t)w == n)
			return 0;
	}
	size_t rest = n - (size_t)w;
	if (c->outoff > 0) { /* compact */
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff, c->outoff = 0;
	}
	char *out = realloc(c->out, c->outlen + rest);
	if (!out)
		return -1;
	memcpy(out + c->outlen, p + w, rest);
	c->out = out, c->outlen += rest;
	set_events(fd, EPOLLOUT); /* stop reading until the output drains */
	return 0;
}

static void on_writable(int fd, struct conn *c)
{
	ssize_t w = send(fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
	if (w < 0 && errno == EAGAIN)
		return;
	if (w < 0) {
		conn_close(fd);
		return;
	}
	c->outoff += (size_t)w;
	if (c->outoff < c->outlen)
		return;
	free(c->out);
	c->out = NULL, c->outlen = c->outoff = 0;
	if (c->closing)
		conn_close(fd);
	else
		set_events(fd, EPOLLIN);
}

/* http_input answers the complete requests in in and returns the bytes
 * consumed, or -1 if the connection is to be closed now. */
static long http_input(int fd, struct conn *c, const char *in, size_t len)
{
	int n, closing;
	size_t used = scan(in, len, &n, &closing);
	if (closing)
		n--;
	while (n > 0) {
		int k = n < BATCH ? n : BATCH;
		if (conn_send(fd, c, resp_batch, (size_t)k * resp_len) < 0)
			return -1;
		n -= k;
	}
	if (closing) {
		if (conn_send(fd, c, resp_close, resp_close_len) < 0)
			return -1;
		if (c->outlen == c->outoff)
			return -1;
		c->closing = 1;
		return (long)len;
	}
	return (long)used;
}

static void on_readable(int fd, struct conn *c)
{
	ssize_t r = recv(fd, rbuf, BUFSZ, 0);
	if (r < 0 && errno == EAGAIN)
		return;
	if (r <= 0) { /* FIN or error: close, after flushing what is pending */
		if (r == 0 && c->outlen > c->outoff) {
			c->closing = 1;
			set_events(fd, EPOLLOUT);
		} else {
			conn_close(fd);
		}
		return;
	}
	if (!http_mode) {
		if (conn_send(fd, c, rbuf, (size_t)r) < 0)
			conn_close(fd);
		return;
	}
	const char *in = rbuf;
	size_t len = (size_t)r;
	if (c->inlen > 0) { /* a partial request is waiting: append */
		if (c->inlen + len > BUFSZ) { /* a request head above 64 KiB */
			conn_close(fd);
			return;
		}
		memcpy(c->in + c->inlen, rbuf, len);
		c->inlen += len;
		in = c->in, len = c->inlen;
	}
	long used = http_input(fd, c, in, len);
	if (used < 0) {
		conn_close(fd);
		return;
	}
	size_t rest = len - (size_t)used;
	if (rest > 0 && !c->in) {
		c->in = malloc(BUFSZ);
		if (!c->in) {
			conn_close(fd);
			return;
		}
	}
	memmove(c->in ? c->in : rbuf, in + used, rest);
	c->inlen = rest;
	if (rest == 0 && c->in) {
		free(c->in);
		c->in = NULL;
	}
}

static void on_accept(void)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				listener_paused = 1; /* re-armed when a connection closes */
				set_events(lfd, 0);
			}
			return; /* EAGAIN, or a transient error: wait for the next event */
		}
		struct conn *c = calloc(1, sizeof *c);
		if ((size_t)fd >= nconns || !c) {
			free(c);
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			free(c);
			close(fd);
			continue;
		}
		conns[fd] = c;
	}
}

static int listen_on(const char *addr)
{
	char host[64];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof host)
		return -1;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4096) < 0)
		return -1;
	return fd;
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1:7000", *mode = "echo";
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-addr"))
			addr = argv[i + 1];
		else if (!strcmp(argv[i], "-mode"))
			mode = argv[i + 1];
	}
	if (strcmp(mode, "echo") && strcmp(mode, "http")) {
		fprintf(stderr, "usage: server -addr HOST:PORT -mode echo|http\n");
		return 2;
	}
	http_mode = !strcmp(mode, "http");
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max; /* as Go raises its soft limit at start */
	setrlimit(RLIMIT_NOFILE, &rl);
	nconns = rl.rlim_cur;
	conns = calloc(nconns, sizeof *conns);
	lfd = listen_on(addr);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || lfd < 0 || ep < 0) {
		perror("server: listen");
		return 1;
	}
	struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
	build_responses();
	printf("listening %s\n", addr);
	fflush(stdout);
	struct epoll_event evs[MAXEV];
	for (;;) {
		int n = epoll_wait(ep, evs, MAXEV, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("server: epoll_wait");
			return 1;
		}
		if (http_mode)
			build_responses();
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				on_accept();
				continue;
			}
			struct conn *c = conns[fd];
			if (!c) /* closed earlier in this batch */
				continue;
			if (evs[i].events & EPOLLOUT)
				on_writable(fd, c);
			else if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(fd, c);
		}
	}
}
