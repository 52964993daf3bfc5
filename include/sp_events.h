/*
 * sp_events.h - the small event library that Spread's <sp.h> exports, so
 * that programs written for Spread (its spuser example among them)
 * compile unchanged: file-descriptor callbacks with three priorities,
 * timed callbacks, and a loop that runs them.
 *
 * The library keeps one event loop per process; its calls are meant for
 * the process's main thread. See E_init(3).
 */
#ifndef INC_SP_EVENTS
#define INC_SP_EVENTS

#include <stddef.h>

#define MAX_FD_EVENTS 2000

#define NUM_PRIORITY 3
#define LOW_PRIORITY 0
#define MEDIUM_PRIORITY 1
#define HIGH_PRIORITY 2

#define NUM_FDTYPES 3
#define READ_FD 0
#define WRITE_FD 1
#define EXCEPT_FD 2

typedef struct dummy_time {
	long sec;
	long usec;
} sp_time;

#ifdef __cplusplus
extern "C" {
#endif

int E_init(void);
sp_time E_get_time(void);
sp_time E_sub_time(sp_time t, sp_time delta_t);
sp_time E_add_time(sp_time t, sp_time delta_t);
/* 1 if t1 is later than t2, -1 if earlier, 0 if equal. */
int E_compare_time(sp_time t1, sp_time t2);
/* Calls func(code, data) once, delta_time from now; the same
 * (func, code, data) queued again is moved, not duplicated. */
int E_queue(void (*func)(int code, void *data), int code, void *data,
	    sp_time delta_time);
/* Cancels a queued call; 0 if it was queued, -1 if not. The data is not
 * freed. */
int E_dequeue(void (*func)(int code, void *data), int code, void *data);
void E_delay(sp_time t);

int E_attach_fd(int fd, int fd_type,
		void (*func)(int fd, int code, void *data), int code,
		void *data, int priority);
int E_detach_fd(int fd, int fd_type);
int E_set_active_threshold(int priority);
int E_activate_fd(int fd, int fd_type);
int E_deactivate_fd(int fd, int fd_type);
int E_num_active(int priority);

void E_handle_events(void);
void E_exit_events(void);

#ifdef __cplusplus
}
#endif

#endif /* INC_SP_EVENTS */
