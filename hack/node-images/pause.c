/*
 * The pod sandbox's first process: holds the pod's namespaces open until told to stop.
 * Sleeps in sigsuspend(2) until SIGINT or SIGTERM, reaping any child that is reparented
 * to it (it is PID 1 of the pod's PID namespace when that namespace is shared).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig) { stop_signal = sig; }

/* The handler only interrupts sigsuspend; reaping happens in the main loop. */
static void on_child(int sig) { (void)sig; }

static int install(int sig, void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = sig == SIGCHLD ? SA_NOCLDSTOP : 0;
  return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc > 1) {
    fprintf(stderr, "usage: pause (takes no arguments)\n");
    return 2;
  }
  sigset_t watched, during_wait;
  sigemptyset(&watched);
  sigaddset(&watched, SIGINT);
  sigaddset(&watched, SIGTERM);
  sigaddset(&watched, SIGCHLD);
  /* Block first, so a signal arriving before sigsuspend is not lost. */
  if (sigprocmask(SIG_BLOCK, &watched, &during_wait) != 0 || install(SIGINT, on_stop) != 0 ||
      install(SIGTERM, on_stop) != 0 || install(SIGCHLD, on_child) != 0) {
    perror("pause: signal setup");
    return 1;
  }
  sigdelset(&during_wait, SIGINT);
  sigdelset(&during_wait, SIGTERM);
  sigdelset(&during_wait, SIGCHLD);
  while (!stop_signal) {
    sigsuspend(&during_wait);
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
  }
  fprintf(stderr, "pause: stopping on signal %d\n", (int)stop_signal);
  return 0;
}
