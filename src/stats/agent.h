/*
 * agent.h - classifies a User-Agent string into a class (browser,
 * download tool, crawler, other), a family name within the class, and an
 * operating system. Pure table lookups by substring; meant to run once
 * per distinct agent string (the aggregator caches the result).
 */
#ifndef CHORUS_STATS_AGENT_H
#define CHORUS_STATS_AGENT_H

#include <stddef.h>

enum ag_class { AG_OTHER = 0, AG_BROWSER, AG_TOOL, AG_CRAWLER, AG__COUNT };

struct ag_info {
	int cls;          /* enum ag_class */
	const char *name; /* family within the class, or NULL (class other) */
	const char *os;   /* operating system family, or NULL */
};

const char *ag_class_name(int cls);
void ag_classify(const char *ua, size_t len, struct ag_info *out);

#endif
