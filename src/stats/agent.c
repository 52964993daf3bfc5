/*
 * agent.c - User-Agent classification (see agent.h). Each table is
 * searched in order and the first substring found wins, so more specific
 * marks come first (Edge's "Edg/" before "Chrome/", "Chrome/" before
 * "Safari/", crawlers before the browsers they imitate).
 */
#include "stats/agent.h"

#include <ctype.h>
#include <string.h>

struct mark {
	const char *needle;
	const char *name;
};

static const struct mark crawlers[] = {
	{ "Googlebot", "Googlebot" }, { "bingbot", "bingbot" }, { "Baiduspider", "Baiduspider" },
	{ "YandexBot", "YandexBot" }, { "DuckDuckBot", "DuckDuckBot" }, { "Applebot", "Applebot" },
	{ "AhrefsBot", "AhrefsBot" }, { "SemrushBot", "SemrushBot" }, { "MJ12bot", "MJ12bot" },
	{ "DotBot", "DotBot" }, { "PetalBot", "PetalBot" }, { "GPTBot", "GPTBot" },
	{ "ClaudeBot", "ClaudeBot" }, { "CCBot", "CCBot" }, { "Bytespider", "Bytespider" },
	{ "Amazonbot", "Amazonbot" }, { "facebookexternalhit", "facebookexternalhit" },
	{ "archive.org_bot", "archive.org" }, { "ia_archiver", "archive.org" },
	{ "Slurp", "Yahoo Slurp" }, { "Sogou", "Sogou" }, { "SeznamBot", "SeznamBot" },
	/* Browsers driven by programs. */
	{ "HeadlessChrome", "Headless Chrome" }, { "PhantomJS", "PhantomJS" },
};

static const struct mark tools[] = {
	{ "APT-HTTP", "APT" }, { "Debian APT", "APT" }, { "apt-cacher", "apt-cacher" },
	{ "jigdo-file", "jigdo-file" }, { "jigdo-lite", "jigdo-lite" }, { "jigdo", "jigdo" },
	{ "Wget2", "Wget" }, { "Wget", "Wget" }, { "curl/", "curl" }, { "libcurl", "curl" },
	{ "libdnf", "dnf" }, { "dnf/", "dnf" }, { "yum/", "yum" }, { "urlgrabber", "yum" },
	{ "ZYpp", "zypper" }, { "zypper", "zypper" }, { "pacman", "pacman" },
	{ "PackageKit", "PackageKit" }, { "aria2", "aria2" }, { "axel", "axel" },
	{ "lftp", "lftp" }, { "rsync", "rsync" }, { "debootstrap", "debootstrap" },
	{ "Go-http-client", "Go-http-client" }, { "python-requests", "python-requests" },
	{ "Python-urllib", "Python-urllib" }, { "aiohttp", "aiohttp" }, { "HTTPie", "HTTPie" },
	{ "libwww-perl", "libwww-perl" }, { "okhttp", "okhttp" }, { "Java/", "Java" },
	{ "Microsoft BITS", "BITS" }, { "Windows-Update-Agent", "Windows Update" },
	{ "Transmission", "Transmission" }, { "qBittorrent", "qBittorrent" },
};

static const struct mark browsers[] = {
	{ "Edg/", "Edge" }, { "EdgA/", "Edge" }, { "Edge/", "Edge" }, { "OPR/", "Opera" },
	{ "Opera", "Opera" }, { "Vivaldi/", "Vivaldi" }, { "YaBrowser/", "Yandex Browser" },
	{ "SamsungBrowser/", "Samsung Internet" }, { "Firefox/", "Firefox" },
	{ "FxiOS/", "Firefox" }, { "CriOS/", "Chrome" }, { "Chromium/", "Chromium" },
	{ "Chrome/", "Chrome" }, { "Safari/", "Safari" }, { "MSIE ", "Internet Explorer" },
	{ "Trident/", "Internet Explorer" }, { "Lynx/", "Lynx" }, { "w3m/", "w3m" },
	{ "Links (", "Links" }, { "ELinks", "ELinks" }, { "Konqueror", "Konqueror" },
};

static const struct mark systems[] = {
	{ "Android", "Android" }, { "iPhone", "iOS" }, { "iPad", "iOS" }, { "iPod", "iOS" },
	{ "Windows", "Windows" }, { "Win64", "Windows" }, { "Macintosh", "macOS" },
	{ "Mac OS X", "macOS" }, { "CrOS", "ChromeOS" }, { "FreeBSD", "FreeBSD" },
	{ "OpenBSD", "OpenBSD" }, { "NetBSD", "NetBSD" }, { "SunOS", "Solaris" },
	{ "Linux", "Linux" }, { "APT-HTTP", "Linux" }, { "libdnf", "Linux" }, { "yum/", "Linux" },
	{ "X11", "Unix" },
};

static const char *const class_names[AG__COUNT] = { "other", "browser", "tool", "crawler" };

const char *ag_class_name(int cls)
{
	return cls >= 0 && cls < AG__COUNT ? class_names[cls] : "other";
}

static const char *find(const char *ua, size_t len, const struct mark *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (memmem(ua, len, m[i].needle, strlen(m[i].needle)))
			return m[i].name;
	return NULL;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* "bot" or "Bot" ending a word (MJ12bot, AhrefsBot/7, robot): not the
 * letters of a name (Abbott) nor an upper-case brand (CUBOT phones). */
static int bot_word(const char *ua, size_t n)
{
	for (size_t i = 0; i + 3 <= n; i++) {
		if (!((ua[i] == 'b' || ua[i] == 'B') && ua[i + 1] == 'o' && ua[i + 2] == 't'))
			continue;
		if (i + 3 == n || !isalpha((unsigned char)ua[i + 3]))
			return 1;
	}
	return 0;
}

void ag_classify(const char *ua, size_t len, struct ag_info *out)
{
	out->cls = AG_OTHER;
	out->name = NULL;
	out->os = find(ua, len, systems, N(systems));
	if ((out->name = find(ua, len, crawlers, N(crawlers)))) {
		out->cls = AG_CRAWLER;
		return;
	}
	/* Generic marks of crawlers, in any case. */
	char low[512];
	size_t n = len < sizeof(low) ? len : sizeof(low);
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)ua[i]);
	if (bot_word(ua, n) || memmem(low, n, "crawl", 5) || memmem(low, n, "spider", 6)) {
		out->cls = AG_CRAWLER;
		out->name = "Other crawler";
		return;
	}
	if ((out->name = find(ua, len, tools, N(tools)))) {
		out->cls = AG_TOOL;
		return;
	}
	if ((out->name = find(ua, len, browsers, N(browsers)))) {
		out->cls = AG_BROWSER;
		return;
	}
}
