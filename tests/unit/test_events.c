/*
 * test_events.c - the sp_events.h event library: time arithmetic, timed
 * calls (order, re-queue, dequeue), descriptor callbacks with priorities,
 * activation and threshold, detaching from inside a callback, exit.
 */
#include <string.h>
#include <unistd.h>

#include "sp.h"
#include "t.h"

static int log_buf[64], log_n;

static void note(int code, void *data)
{
	(void)data;
	if (log_n < 64)
		log_buf[log_n++] = code;
}

static void note_and_exit(int code, void *data)
{
	note(code, data);
	E_exit_events();
}

static void time_math(void)
{
	sp_time a = { 1, 900000 }, b = { 0, 200000 }, c;

	c = E_add_time(a, b);
	T_EQ(c.sec, 2);
	T_EQ(c.usec, 100000);
	c = E_sub_time(c, b);
	T_EQ(c.sec, 1);
	T_EQ(c.usec, 900000);
	c = E_sub_time(b, a);
	T_EQ(c.sec, -2);
	T_EQ(c.usec, 300000);
	T_EQ(E_compare_time(a, b), 1);
	T_EQ(E_compare_time(b, a), -1);
	T_EQ(E_compare_time(a, a), 0);
	c = E_get_time();
	T_ASSERT(c.sec > 1700000000 && c.usec >= 0 && c.usec < 1000000);
}

static void timers(void)
{
	sp_time t10 = { 0, 10000 }, t20 = { 0, 20000 }, t30 = { 0, 30000 },
		t0 = { 0, 0 };
	sp_time start;

	E_init();
	log_n = 0;
	T_EQ(E_queue(note, 3, NULL, t30), 0);
	T_EQ(E_queue(note, 1, NULL, t10), 0);
	T_EQ(E_queue(note, 2, NULL, t0), 0);
	T_EQ(E_queue(note, 2, NULL, t20), 0); /* moved, not duplicated */
	T_EQ(E_queue(note, 9, NULL, t10), 0);
	T_EQ(E_dequeue(note, 9, NULL), 0);
	T_EQ(E_dequeue(note, 9, NULL), -1);
	T_EQ(E_queue(note_and_exit, 4, NULL, (sp_time){ 0, 40000 }), 0);
	start = E_get_time();
	E_handle_events();
	T_EQ(log_n, 4);
	T_EQ(log_buf[0], 1);
	T_EQ(log_buf[1], 2);
	T_EQ(log_buf[2], 3);
	T_EQ(log_buf[3], 4);
	T_ASSERT(E_compare_time(E_sub_time(E_get_time(), start), (sp_time){ 0, 39000 }) >= 0);
}

static int pipes[3][2];

static void on_read(int fd, int code, void *data)
{
	char c;

	(void)data;
	T_EQ(read(fd, &c, 1), 1);
	note(code, NULL);
	if (log_n >= 4)
		E_exit_events();
}

static void priorities(void)
{
	E_init();
	log_n = 0;
	for (int i = 0; i < 3; i++)
		T_EQ(pipe(pipes[i]), 0);
	T_EQ(E_attach_fd(pipes[0][0], READ_FD, on_read, 10, NULL, LOW_PRIORITY), 0);
	T_EQ(E_attach_fd(pipes[1][0], READ_FD, on_read, 20, NULL, HIGH_PRIORITY), 0);
	T_EQ(E_attach_fd(pipes[2][0], 7, on_read, 0, NULL, LOW_PRIORITY), -1);
	T_EQ(E_attach_fd(pipes[2][0], READ_FD, on_read, 0, NULL, 5), -1);
	T_EQ(E_num_active(LOW_PRIORITY), 1);
	T_EQ(E_num_active(HIGH_PRIORITY), 1);
	/* Both ready: the high one is served while it has input. */
	T_EQ(write(pipes[0][1], "ab", 2), 2);
	T_EQ(write(pipes[1][1], "xy", 2), 2);
	E_handle_events();
	T_EQ(log_n, 4);
	T_EQ(log_buf[0], 20);
	T_EQ(log_buf[1], 20);
	T_EQ(log_buf[2], 10);
	T_EQ(log_buf[3], 10);
	/* Deactivated, and under the threshold: not served. */
	log_n = 0;
	T_EQ(E_deactivate_fd(pipes[1][0], READ_FD), 0);
	T_EQ(E_num_active(HIGH_PRIORITY), 0);
	T_EQ(write(pipes[1][1], "z", 1), 1);
	T_EQ(E_set_active_threshold(MEDIUM_PRIORITY), MEDIUM_PRIORITY);
	T_EQ(write(pipes[0][1], "q", 1), 1);
	T_EQ(E_queue(note_and_exit, 99, NULL, (sp_time){ 0, 50000 }), 0);
	E_handle_events();
	T_EQ(log_n, 1);
	T_EQ(log_buf[0], 99);
	T_EQ(E_set_active_threshold(LOW_PRIORITY), LOW_PRIORITY);
	T_EQ(E_activate_fd(pipes[1][0], READ_FD), 0);
	T_EQ(E_detach_fd(pipes[1][0], READ_FD), 0);
	T_EQ(E_detach_fd(pipes[1][0], READ_FD), -1);
	T_EQ(E_activate_fd(pipes[1][0], READ_FD), -1);
}

static void detach_self(int fd, int code, void *data)
{
	(void)data;
	note(code, NULL);
	E_detach_fd(fd, READ_FD);
	E_queue(note_and_exit, 0, NULL, (sp_time){ 0, 20000 });
}

static void detach_inside_callback(void)
{
	int p[2];

	E_init();
	log_n = 0;
	T_EQ(pipe(p), 0);
	T_EQ(E_attach_fd(p[0], READ_FD, detach_self, 5, NULL, LOW_PRIORITY), 0);
	T_EQ(write(p[1], "abc", 3), 3); /* stays readable: called once only */
	E_handle_events();
	T_EQ(log_n, 2);
	T_EQ(log_buf[0], 5);
	T_EQ(log_buf[1], 0);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(time_math),
		T_CASE(timers),
		T_CASE(priorities),
		T_CASE(detach_inside_callback),
	};
	return t_main(argc, argv, cases, T_COUNT(cases));
}
