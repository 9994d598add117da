/*
 * loadgen.c: the echo load generator of the comparison suite (wrk cannot
 * speak raw echo). One thread, epoll, non-blocking connects.
 *
 * Load mode: each of -c connections keeps -P messages of -s bytes in
 * flight: it sends P, and sends one more for each message echoed back. After
 * -w seconds of warm-up it prints "start", counts the messages echoed for -d
 * seconds and prints "result ...". Then it stops sending, waits up to 3 s for
 * every byte sent to come back, and prints "verify ok" or "verify FAILED".
 * The stream is a fixed pattern and every byte echoed is compared with it.
 * Each message's round trip (from when it is due, which is when it is sent
 * unless the socket is full, to the arrival of its last echoed byte, by
 * CLOCK_MONOTONIC) goes into a histogram with about 1.5 % resolution; the
 * result line ends with its p50_us, p99_us, p999_us and max_us over the
 * measured window.
 *
 * Idle mode (-i): opens -c connections, sends one byte on each and waits
 * for its echo (so the server has accepted and served every one), prints
 * "ready N", then holds them for -d seconds, or until standard input reaches
 * EOF with -q, and prints "result idle ...".
 *
 * Churn mode (-C): -c connections at a time, each a whole life: a
 * non-blocking connect, -s bytes sent, their echo read and compared, close;
 * then the next connection takes its place. After -w seconds it prints
 * "start", counts the connections completed for -d seconds and prints
 * "result churn ..." (msgs= and rate= count connections), then stops
 * opening connections, waits up to 3 s for those under way to finish, and
 * prints "verify ok" or "verify FAILED". loadgen closes first, so its side
 * keeps the TIME_WAIT: use -b to spread the connections over source
 * addresses (noport= counts connects that failed with EADDRNOTAVAIL).
 *
 * -b K binds connection i to source address 127.0.0.(2 + i%K) (churn: the
 * i-th connection opened): each source address has its own ephemeral port
 * range, so more connections than one range holds (~28k) can be opened to
 * one server address.
 *
 *   loadgen -a 127.0.0.1:7000 -c 100 -s 64 -P 1 -d 5 [-w 1] [-b 8] [-i] [-q] [-C]
 *
 * Everything is bounded: -d at most 3600 s, connecting at most 60 s, the
 * final drain 3 s. Exit status 0 only if every connection connected and
 * every byte came back intact. Build: gcc -O2 -o loadgen loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { PATLEN = 251, RBUF = 64 << 10, MAXEV = 1024, MAXCONNECTING = 512 };
enum { CONNECTING, OPEN, DEAD, IDLE };

struct conn {
	int fd, state;
	uint64_t sent, rcvd, owed; /* owed: bytes due but not yet sent */
	uint64_t msgs_done;        /* complete messages echoed so far */
	uint64_t msgs_window;      /* of them, inside the measured window */
	uint64_t *due;             /* ring of -P times at which the messages in flight were due, ns */
	int due_head, due_len;
};

/* The latency histogram: values below 2*HSUB ns exactly, above that HSUB
 * buckets per power of two (1/64: about 1.5 %), up to 2^47 ns. */
enum { HSUB = 64, HBITS = 6, HBUCKETS = (48 - HBITS) * HSUB };
static uint64_t hist[HBUCKETS], hist_n, hist_max;

static struct conn *conns;
static int nconn, size = 64, depth = 1, nsrc, idle, quit_on_stdin;
static double dur = 5, warm = 1;
static int ep, errors, sending;
static int churn, churn_opening, noport; /* churn mode (-C) */
static unsigned long churn_seq;           /* connections opened in churn mode */
static char *pat; /* the pattern repeated, PATLEN + the largest send long */
static size_t maxchunk;
static struct sockaddr_in dst;
static char rbuf[RBUF];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int hist_index(uint64_t v)
{
	if (v < 2 * HSUB)
		return (int)v;
	int shift = 63 - __builtin_clzll(v) - HBITS;
	int i = (shift + 1) * HSUB + (int)((v >> shift) - HSUB);
	return i < HBUCKETS ? i : HBUCKETS - 1;
}

/* hist_value is the middle of bucket i, in ns. */
static double hist_value(int i)
{
	if (i < 2 * HSUB)
		return i;
	int shift = i / HSUB - 1;
	uint64_t lo = (uint64_t)(i % HSUB + HSUB) << shift;
	return (double)lo + (double)((uint64_t)1 << shift) / 2;
}

/* hist_pct returns the q-quantile (0 < q <= 1) in µs. */
static double hist_pct(double q)
{
	if (hist_n == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)hist_n + 0.5), seen = 0;
	rank = rank < 1 ? 1 : rank;
	for (int i = 0; i < HBUCKETS; i++)
		if ((seen += hist[i]) >= rank) /* a bucket's middle may lie past the largest value */
			return (hist_value(i) < (double)hist_max ? hist_value(i) : (double)hist_max) / 1e3;
	return (double)hist_max / 1e3;
}

/* due_push records that k more messages are due at t. */
static void due_push(struct conn *c, uint64_t k, uint64_t t)
{
	for (; k > 0 && c->due_len < depth; k--)
		c->due[(c->due_head + c->due_len++) % depth] = t;
}

/* due_pop ends k messages at t, the oldest first, counting their round
 * trips when inside the measured window. */
static void due_pop(struct conn *c, uint64_t k, uint64_t t, int counting)
{
	for (; k > 0 && c->due_len > 0; k--) {
		uint64_t d = t - c->due[c->due_head];
		c->due_head = (c->due_head + 1) % depth, c->due_len--;
		if (counting) {
			hist[hist_index(d)]++, hist_n++;
			hist_max = d > hist_max ? d : hist_max;
		}
	}
}

static void set_events(struct conn *c, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void fail(struct conn *c, const char *what, int err)
{
	if (errors < 5)
		fprintf(stderr, "loadgen: conn %ld: %s: %s\n", (long)(c - conns), what, err ? strerror(err) : "unexpected");
	errors++;
	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1, c->state = DEAD;
}

/* flush sends what is owed; EPOLLOUT is armed only while something is. */
static void flush(struct conn *c)
{
	int blocked = 0;
	while (c->owed > 0) {
		size_t n = c->owed < maxchunk ? (size_t)c->owed : maxchunk;
		ssize_t w = send(c->fd, pat + c->sent % PATLEN, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN) {
			blocked = 1;
			break;
		}
		if (w < 0) {
			fail(c, "send", errno);
			return;
		}
		c->sent += (uint64_t)w, c->owed -= (uint64_t)w;
	}
	set_events(c, blocked ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static void on_readable(struct conn *c, int counting)
{
	ssize_t r = recv(c->fd, rbuf, RBUF, 0);
	if (r < 0 && errno == EAGAIN)
		return;
	if (r <= 0) {
		fail(c, r == 0 ? "server closed the connection" : "recv", r == 0 ? 0 : errno);
		return;
	}
	if (c->rcvd + (uint64_t)r > c->sent) {
		fail(c, "received more bytes than sent", 0);
		return;
	}
	/* compare with the pattern, at most maxchunk bytes at a time */
	for (size_t off = 0; off < (size_t)r;) {
		size_t n = (size_t)r - off < maxchunk ? (size_t)r - off : maxchunk;
		if (memcmp(rbuf + off, pat + (c->rcvd + off) % PATLEN, n) != 0) {
			fail(c, "echoed bytes differ from those sent", 0);
			return;
		}
		off += n;
	}
	c->rcvd += (uint64_t)r;
	uint64_t done = c->rcvd / (uint64_t)size, k = done - c->msgs_done;
	c->msgs_done = done;
	if (counting)
		c->msgs_window += k;
	if (k > 0 && c->due) {
		uint64_t t = now_ns();
		due_pop(c, k, t, counting);
		if (sending)
			due_push(c, k, t);
	}
	if (sending && k > 0) {
		c->owed += k * (uint64_t)size;
		flush(c);
	}
}

/* start_connect begins a non-blocking connect for conns[i], from source
 * address number seq % nsrc with -b. */
static void start_connect(int i, unsigned long seq)
{
	struct conn *c = &conns[i];
	int one = 1;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fail(c, "socket", errno);
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (nsrc > 0) {
		struct sockaddr_in src = {.sin_family = AF_INET,
			.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(seq % (unsigned long)nsrc))};
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0) {
			fail(c, "bind", errno);
			return;
		}
	}
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
		noport += errno == EADDRNOTAVAIL;
		fail(c, "connect", errno);
		return;
	}
	c->state = CONNECTING;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/* connect_all opens every connection, MAXCONNECTING at a time. */
static int connect_all(void)
{
	struct epoll_event evs[MAXEV];
	int next = 0, pending = 0, open = 0;
	double deadline = now() + 60;
	while (open + errors < nconn) {
		while (next < nconn && pending < MAXCONNECTING) {
			start_connect(next, (unsigned long)next);
			next++;
			if (conns[next - 1].state == CONNECTING)
				pending++;
		}
		if (now() > deadline) {
			fprintf(stderr, "loadgen: connecting took over 60 s\n");
			return -1;
		}
		int n = epoll_wait(ep, evs, MAXEV, 100);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->state != CONNECTING)
				continue;
			int err = 0;
			socklen_t len = sizeof err;
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
			pending--;
			if (err) {
				fail(c, "connect", err);
				continue;
			}
			c->state = OPEN, open++;
			set_events(c, EPOLLIN);
		}
	}
	return errors ? -1 : 0;
}

/* run_until serves events until t (or stdin's EOF when watching it). */
static void run_until(double t, int counting, int watch_stdin)
{
	struct epoll_event evs[MAXEV];
	for (double cur = now(); cur < t; cur = now()) {
		int ms = (int)((t - cur) * 1000) + 1;
		int n = epoll_wait(ep, evs, MAXEV, ms < 100 ? ms : 100);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c == NULL) { /* stdin */
				char b[256];
				if (watch_stdin && read(0, b, sizeof b) <= 0)
					return;
				continue;
			}
			if (c->state != OPEN)
				continue;
			if (evs[i].events & EPOLLOUT)
				flush(c);
			if (c->state == OPEN && evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(c, counting);
		}
	}
}

static int all_back(void)
{
	for (int i = 0; i < nconn; i++)
		if (conns[i].state == OPEN && conns[i].rcvd != conns[i].sent)
			return 0;
	return 1;
}

/* ---- churn mode: one exchange per connection ---- */

/* churn_next opens the next connection in slot c, or leaves it idle once
 * the run stops opening them. */
static void churn_next(struct conn *c)
{
	c->fd = -1, c->sent = c->rcvd = c->owed = 0;
	c->state = IDLE;
	if (churn_opening)
		start_connect((int)(c - conns), churn_seq++);
}

/* churn_done closes a connection whose echo came back whole. */
static void churn_done(struct conn *c, int counting)
{
	close(c->fd); /* first, with nothing unread: a FIN, and TIME_WAIT here */
	c->msgs_done++;
	if (counting)
		c->msgs_window++;
	churn_next(c);
}

static void churn_event(struct conn *c, unsigned events, int counting)
{
	if (c->state == CONNECTING) {
		int err = 0;
		socklen_t len = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			fail(c, "connect", err);
			return;
		}
		c->state = OPEN;
		c->owed = (uint64_t)size;
		flush(c); /* sets EPOLLIN, and EPOLLOUT if the send was short */
		return;
	}
	if (events & EPOLLOUT)
		flush(c);
	if (c->state != OPEN || !(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	ssize_t r = recv(c->fd, rbuf, RBUF, 0);
	if (r < 0 && errno == EAGAIN)
		return;
	if (r <= 0) {
		fail(c, r == 0 ? "server closed the connection before the echo" : "recv", r == 0 ? 0 : errno);
		return;
	}
	if (c->rcvd + (uint64_t)r > (uint64_t)size || memcmp(rbuf, pat + c->rcvd % PATLEN, (size_t)r) != 0) {
		fail(c, "echoed bytes differ from those sent", 0);
		return;
	}
	c->rcvd += (uint64_t)r;
	if (c->rcvd == (uint64_t)size)
		churn_done(c, counting);
}

/* churn_until serves the churn until t. Slots whose connection failed are
 * given a new one on the next turn, with a 1 ms wait so that a refusing
 * server is not hammered in a tight loop. */
static void churn_until(double t, int counting)
{
	struct epoll_event evs[MAXEV];
	for (double cur = now(); cur < t; cur = now()) {
		int dead = 0;
		for (int i = 0; i < nconn; i++)
			if (conns[i].state == DEAD) {
				dead = 1;
				churn_next(&conns[i]);
			}
		int ms = (int)((t - cur) * 1000) + 1;
		int n = epoll_wait(ep, evs, MAXEV, dead ? 1 : ms < 100 ? ms : 100);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->state == CONNECTING || c->state == OPEN)
				churn_event(c, evs[i].events, counting);
		}
	}
}

/* churn_main runs the churn mode after the options are parsed. */
static int churn_main(void)
{
	churn_opening = 1;
	for (int i = 0; i < nconn; i++)
		churn_next(&conns[i]);
	churn_until(now() + warm, 0);
	printf("start\n");
	double start = now();
	churn_until(start + dur, 1);
	double secs = now() - start;
	uint64_t total = 0, lo = UINT64_MAX, hi = 0;
	for (int i = 0; i < nconn; i++) {
		uint64_t m = conns[i].msgs_window;
		total += m;
		lo = m < lo ? m : lo;
		hi = m > hi ? m : hi;
	}
	printf("result churn conns=%d size=%d secs=%.3f msgs=%llu rate=%.1f min_conn=%llu max_conn=%llu errors=%d noport=%d\n",
		nconn, size, secs, (unsigned long long)total, (double)total / secs,
		(unsigned long long)lo, (unsigned long long)hi, errors, noport);

	churn_opening = 0; /* drain: the connections under way finish */
	double deadline = now() + 3;
	int busy = 1;
	while (busy && now() < deadline) {
		churn_until(now() + 0.05, 0);
		busy = 0;
		for (int i = 0; i < nconn; i++)
			busy |= conns[i].state == CONNECTING || conns[i].state == OPEN;
	}
	int missing = 0;
	for (int i = 0; i < nconn; i++)
		missing += conns[i].state == CONNECTING || conns[i].state == OPEN;
	if (missing || errors) {
		printf("verify FAILED errors=%d missing_echo=%d\n", errors, missing);
		return 1;
	}
	printf("verify ok conns=%d\n", nconn);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: loadgen -a HOST:PORT [-c conns] [-s size] [-P depth] [-d secs] [-w warmup] [-b nsrc] [-i] [-q] [-C]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1:7000";
	int opt;
	while ((opt = getopt(argc, argv, "a:c:s:P:d:w:b:iqC")) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'c': nconn = atoi(optarg); break;
		case 's': size = atoi(optarg); break;
		case 'P': depth = atoi(optarg); break;
		case 'd': dur = atof(optarg); break;
		case 'w': warm = atof(optarg); break;
		case 'b': nsrc = atoi(optarg); break;
		case 'i': idle = 1; break;
		case 'q': quit_on_stdin = 1; break;
		case 'C': churn = 1; break;
		default: return usage();
		}
	}
	if (nconn == 0)
		nconn = 100;
	if (nconn < 1 || size < 1 || size > (1 << 20) || depth < 1 || depth > 1024 || dur <= 0 ||
	    dur > 3600 || warm < 0 || warm > 60 || nsrc < 0 || nsrc > 200 || (churn && (idle || size > RBUF)))
		return usage();
	char host[64];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof host)
		return usage();
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	dst.sin_family = AF_INET;
	dst.sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1 || (ntohl(dst.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "loadgen: %s is not a loopback (127.0.0.0/8) address\n", host);
		return 2;
	}
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if ((rlim_t)nconn + 16 > rl.rlim_cur) {
		fprintf(stderr, "loadgen: %d connections need more descriptors than RLIMIT_NOFILE %llu\n",
			nconn, (unsigned long long)rl.rlim_cur);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	maxchunk = (size_t)size * (size_t)depth;
	if (maxchunk > RBUF)
		maxchunk = RBUF;
	pat = malloc(PATLEN + maxchunk);
	conns = calloc((size_t)nconn, sizeof *conns);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!pat || !conns || ep < 0) {
		perror("loadgen");
		return 1;
	}
	for (size_t i = 0; i < PATLEN + maxchunk; i++)
		pat[i] = (char)('a' + (i % PATLEN) % 26);
	for (int i = 0; i < nconn; i++)
		conns[i].fd = -1;
	if (churn)
		return churn_main();
	double t0 = now();
	if (connect_all() < 0) {
		fprintf(stderr, "loadgen: %d of %d connections failed\n", errors, nconn);
		return 1;
	}
	printf("connected %d in %.3fs\n", nconn, now() - t0);

	if (idle) { /* one byte each, and its echo, then hold */
		for (int i = 0; i < nconn; i++)
			conns[i].owed = 1, flush(&conns[i]);
		size = 1;
		double deadline = now() + 30;
		while (!all_back() && now() < deadline && !errors)
			run_until(now() + 0.1, 0, 0);
		if (!all_back() || errors) {
			fprintf(stderr, "loadgen: not every connection was echoed within 30 s\n");
			return 1;
		}
		printf("ready %d in %.3fs\n", nconn, now() - t0);
		if (quit_on_stdin) { /* registered only now: at EOF it stays readable */
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
			epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
		}
		run_until(now() + dur, 0, quit_on_stdin);
		printf("result idle conns=%d errors=%d\n", nconn, errors);
		return errors ? 1 : 0;
	}

	sending = 1;
	for (int i = 0; i < nconn; i++) {
		conns[i].due = calloc((size_t)depth, sizeof *conns[i].due);
		if (!conns[i].due) {
			perror("loadgen");
			return 1;
		}
	}
	for (int i = 0; i < nconn; i++)
		if (conns[i].state == OPEN) {
			due_push(&conns[i], (uint64_t)depth, now_ns());
			conns[i].owed = (uint64_t)size * (uint64_t)depth, flush(&conns[i]);
		}
	run_until(now() + warm, 0, 0);
	printf("start\n");
	double start = now();
	run_until(start + dur, 1, 0);
	double secs = now() - start;
	uint64_t total = 0, lo = UINT64_MAX, hi = 0;
	for (int i = 0; i < nconn; i++) {
		uint64_t m = conns[i].msgs_window;
		total += m;
		lo = m < lo ? m : lo;
		hi = m > hi ? m : hi;
	}
	printf("result conns=%d size=%d depth=%d secs=%.3f msgs=%llu rate=%.1f min_conn=%llu max_conn=%llu errors=%d "
	       "p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
		nconn, size, depth, secs, (unsigned long long)total, (double)total / secs,
		(unsigned long long)lo, (unsigned long long)hi, errors,
		hist_pct(0.5), hist_pct(0.99), hist_pct(0.999), (double)hist_max / 1e3);

	sending = 0; /* drain: every byte sent must come back */
	for (int i = 0; i < nconn; i++)
		conns[i].owed = 0;
	double deadline = now() + 3;
	while (!all_back() && now() < deadline)
		run_until(now() + 0.05, 0, 0);
	int missing = 0;
	for (int i = 0; i < nconn; i++)
		if (conns[i].state == OPEN && conns[i].rcvd != conns[i].sent)
			missing++;
	if (missing || errors) {
		printf("verify FAILED errors=%d missing_echo=%d\n", errors, missing);
		return 1;
	}
	printf("verify ok conns=%d\n", nconn);
	return 0;
}
