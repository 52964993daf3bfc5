/*
 * stats_gen - a seeded generator of access-log lines that resemble a
 * mirror network's (Debian-like package pool, CD images, jigdo files and
 * templates, a few pages, 404s, crawlers and download tools), in Apache's
 * combined format, for the chorus-stats benchmark and tests.
 *
 *   stats_gen [-n LINES] [-s SEED] [-d DAYS] [-c CLIENTS] [-m MALFORMED_PER_MILLION]
 *             [-N NODES -o DIR]
 *
 * Without -o the lines go to standard output, time ascending over DAYS
 * days from 2026-11-01. With -o DIR and -N NODES, each line goes to
 * DIR/<node>/access-YYYYMMDD.log (chorus-logd's layout) of one of NODES
 * nodes named node1..nodeN. The same seed gives the same bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static unsigned rnd_below(unsigned n)
{
	return (unsigned)((rnd() >> 32) % n);
}

/* A skewed pick: small indices are much more likely (about Zipf-like). */
static unsigned rnd_skew(unsigned n)
{
	double u = (double)(rnd() >> 11) / 9007199254740992.0;

	return (unsigned)((double)n * u * u * u) % n;
}

static const char *agents[] = {
	"Debian APT-HTTP/1.3 (2.6.1) non-interactive",
	"Debian APT-HTTP/1.3 (2.6.1)",
	"Debian APT-HTTP/1.3 (2.2.4)",
	"Wget/1.21.3",
	"Wget/1.21.4",
	"curl/7.88.1",
	"curl/8.5.0",
	"jigdo-file/0.8.1",
	"libdnf (Fedora Linux 39; server; Linux.x86_64)",
	"urlgrabber/3.10 yum/3.4.3",
	"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.61",
	"Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
	"Go-http-client/1.1",
	"python-requests/2.31.0",
	"aria2/1.36.0",
	"-",
};

static const char *pkgs[] = {
	"bash", "coreutils", "libc6", "openssl", "linux-image-amd64", "firefox-esr",
	"python3.11", "gcc-12", "systemd", "vim", "git", "curl", "nginx", "apache2",
	"postgresql-15", "zlib1g", "libzstd1", "perl", "tzdata", "ca-certificates",
};
static const char *arches[] = { "amd64", "arm64", "i386", "all" };
static const char *releases[] = { "20261012", "20261109", "20261116" };
static const char *images[] = {
	"debian-12.8.0-amd64-DVD-1", "debian-12.8.0-amd64-DVD-2", "debian-12.8.0-arm64-DVD-1",
	"debian-12.8.0-i386-DVD-1", "debian-12.8.0-amd64-BD-1",
};
static const char *sites[] = {
	"https://www.debian.org/CD/http-ftp/", "https://www.google.com/",
	"https://duckduckgo.com/", "http://mirror.example.net/debian/",
	"https://wiki.debian.org/DebianMirrors", "https://forum.example.com/t/1234?x=\\\"y\\\"",
};

static const char *months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Civil date of day number z (days since 1970-01-01). */
static void civil(long z, int *y, int *m, int *d)
{
	z += 719468;
	long era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long yy = (long)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yy + (*m <= 2));
}

static void client(char *buf, size_t cap, unsigned c)
{
	if (c % 7 == 0)
		snprintf(buf, cap, "2001:db8:%x:%x::%x", c >> 16, (c >> 8) & 0xff, c & 0xff);
	else
		snprintf(buf, cap, "%u.%u.%u.%u", 10 + (c >> 16) % 200, (c >> 8) & 0xff, c & 0xff,
			 1 + c % 250);
}

static int path_for(char *buf, size_t cap, uint64_t *bytes, int *status)
{
	unsigned k = rnd_below(1000);
	unsigned p = rnd_skew(sizeof(pkgs) / sizeof(pkgs[0]));
	unsigned a = rnd_below(4);

	*status = 200;
	if (k < 550) {
		snprintf(buf, cap, "/debian/pool/main/%c/%s/%s_%u.%u-%u_%s.deb", pkgs[p][0], pkgs[p],
			 pkgs[p], 1 + p % 5, rnd_below(3), 1 + rnd_below(2), arches[a]);
		*bytes = 20000 + rnd_below(4000000);
	} else if (k < 700) {
		snprintf(buf, cap, "/debian/dists/bookworm/main/binary-%s/%s", arches[a],
			 rnd_below(2) ? "Packages.xz" : "Release");
		*bytes = 1000 + rnd_below(9000000);
		if (rnd_below(5) == 0) {
			*status = 304;
			*bytes = 0;
		}
	} else if (k < 760) {
		unsigned r = rnd_skew(3), i = rnd_skew(5);

		snprintf(buf, cap, "/debian-cd/templates/%s/%s.%s", releases[2 - r], images[i],
			 rnd_below(2) ? "template" : "jigdo");
		*bytes = 30000 + rnd_below(3000000);
	} else if (k < 800) {
		snprintf(buf, cap, "/debian-cd/data/%s/pool/main/%c/%s/%s_%u_%s.deb",
			 releases[2 - rnd_skew(3)], pkgs[p][0], pkgs[p], pkgs[p], 1 + p % 5, arches[a]);
		*bytes = 20000 + rnd_below(4000000);
	} else if (k < 830) {
		unsigned i = rnd_skew(5);

		snprintf(buf, cap, "/debian-cd/iso/%s/%s.iso", releases[2 - rnd_skew(3)], images[i]);
		*bytes = 100000000ULL + rnd_below(1000000000);
		if (rnd_below(3) == 0) {
			*status = 206;
			*bytes /= 10;
		}
	} else if (k < 900) {
		static const char *pages[] = { "/", "/debian/", "/debian-cd/", "/index.html",
					       "/debian-cd/templates/", "/mirror-status.php",
					       "/favicon.ico", "/style.css" };

		snprintf(buf, cap, "%s%s", pages[rnd_skew(8)], rnd_below(10) == 0 ? "?lang=de" : "");
		*bytes = 500 + rnd_below(30000);
	} else if (k < 960) {
		snprintf(buf, cap, "/debian/pool/main/%c/%s/%s_9.9-%u_%s.deb", pkgs[p][0], pkgs[p],
			 pkgs[p], rnd_below(50), arches[a]);
		*status = 404;
		*bytes = 270;
	} else if (k < 990) {
		static const char *bad[] = { "/wp-login.php", "/.env", "/admin/", "/old/debian/",
					     "/robots.txt" };

		snprintf(buf, cap, "%s", bad[rnd_skew(5)]);
		*status = 404;
		*bytes = 270;
	} else {
		snprintf(buf, cap, "/debian/pool/main/%c/%s/", pkgs[p][0], pkgs[p]);
		*status = rnd_below(4) == 0 ? 503 : 301;
		*bytes = 300;
	}
	return 0;
}

static int mkdirs(const char *path)
{
	char tmp[1024];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t n = 1000000, seed = 1;
	unsigned days = 7, clients = 0, malformed_ppm = 50, nodes = 0;
	const char *outdir = NULL;
	int o;

	while ((o = getopt(argc, argv, "n:s:d:c:m:N:o:")) != -1) {
		switch (o) {
		case 'n': n = strtoull(optarg, NULL, 10); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'd': days = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': clients = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': malformed_ppm = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'N': nodes = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'o': outdir = optarg; break;
		default:
			fprintf(stderr, "usage: stats_gen [-n LINES] [-s SEED] [-d DAYS] [-c CLIENTS] "
					"[-m MALFORMED_PPM] [-N NODES -o DIR]\n");
			return 2;
		}
	}
	if (days == 0 || (outdir && nodes == 0) || (!outdir && nodes)) {
		fprintf(stderr, "stats_gen: -d must be > 0; -N and -o go together\n");
		return 2;
	}
	if (clients == 0)
		clients = (unsigned)(n / 40 + 10);
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
	static char outbuf[1 << 16];
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));

	const long day0 = 20758; /* 2026-11-01 */
	const uint64_t span = (uint64_t)days * 86400;
	FILE **files = NULL;
	long open_day = -1;

	if (nodes)
		files = calloc(nodes, sizeof(*files));
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t = i * span / n;
		long day = day0 + (long)(t / 86400);
		unsigned sec = (unsigned)(t % 86400);
		int y, m, d, status;
		char ip[64], path[512], ref[256];
		uint64_t bytes;
		FILE *out = stdout;

		civil(day, &y, &m, &d);
		if (nodes) {
			unsigned nd = rnd_skew(nodes);

			if (day != open_day) {
				for (unsigned k = 0; k < nodes; k++)
					if (files[k])
						fclose(files[k]);
				memset(files, 0, nodes * sizeof(*files));
				open_day = day;
			}
			if (!files[nd]) {
				char dir[900], fn[1000];

				snprintf(dir, sizeof(dir), "%s/node%u", outdir, nd + 1);
				if (mkdirs(dir) != 0) {
					perror(dir);
					return 1;
				}
				snprintf(fn, sizeof(fn), "%s/access-%04d%02d%02d.log", dir, y, m, d);
				files[nd] = fopen(fn, "a");
				if (!files[nd]) {
					perror(fn);
					return 1;
				}
			}
			out = files[nd];
		}
		if (malformed_ppm && rnd_below(1000000) < malformed_ppm) {
			static const char *junk[] = {
				"\\x16\\x03\\x01 garbage from a TLS client",
				"10.0.0.1 - - [32/Foo/2026:99:99:99 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
				"10.0.0.2 - - [01/Nov/2026:00:00:01 +0000] \"GET / HTTP/1.1\" abc 1 \"-\" \"-\"",
				"",
			};
			fprintf(out, "%s\n", junk[rnd_below(4)]);
			continue;
		}
		unsigned cl = rnd_skew(clients);
		const unsigned nag = sizeof(agents) / sizeof(agents[0]);

		client(ip, sizeof(ip), cl);
		path_for(path, sizeof(path), &bytes, &status);
		/* A client mostly keeps its agent (as in real logs); now and then
		 * it uses another program. */
		unsigned ag = rnd_below(10) ? (unsigned)(((uint64_t)cl * 2654435761u) >> 7) % nag
					    : rnd_skew(nag);
		if (rnd_below(10) < 8)
			snprintf(ref, sizeof(ref), "-");
		else
			snprintf(ref, sizeof(ref), "%s", sites[rnd_skew(6)]);
		fprintf(out, "%s - - [%02d/%s/%04d:%02u:%02u:%02u +0000] \"%s %s HTTP/1.1\" %d ", ip, d,
			months[m - 1], y, sec / 3600, sec / 60 % 60, sec % 60,
			rnd_below(50) == 0 ? "HEAD" : "GET", path, status);
		if (bytes == 0)
			fputs("-", out);
		else
			fprintf(out, "%" PRIu64, bytes);
		fprintf(out, " \"%s\" \"%s\"\n", ref, agents[ag]);
	}
	if (files) {
		for (unsigned k = 0; k < nodes; k++)
			if (files[k] && fclose(files[k]) != 0)
				return 1;
		free(files);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
