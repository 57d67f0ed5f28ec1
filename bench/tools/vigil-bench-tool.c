/* vigil-bench-tool: the floors and probes of bench/ (see bench/README.md), in C against
 * libsystemd only, so that what they measure is PID 1 and the kernel, not a runtime.
 *
 *   vigil-bench-tool now
 *       Prints CLOCK_MONOTONIC in nanoseconds (the clock of the stamps below and of
 *       PID 1's *TimestampMonotonic properties).
 *   vigil-bench-tool stamp DIR [WORD...]
 *       The benchmark worker (WORDs are ignored: a reload can change the command line): writes CLOCK_MONOTONIC nanoseconds to DIR/<pid> (a temporary
 *       file renamed into place, so a reader never sees half a number), then waits for a
 *       signal without waking up. SIGTERM ends it with status 0.
 *   vigil-bench-tool start-units PREFIX N WINDOW SLICE -- ARGV...
 *       The floor of starting N workers: StartTransientUnit of PREFIX-<i>.service for i in
 *       [0, N), at most WINDOW calls outstanding (from the call to the job's JobRemoved
 *       signal; at most 100 of them awaiting their reply, as in vigild), with the properties vigild gives a worker of the default spec
 *       (src/core/UnitProperties.cpp: Type=exec, Restart=no, KillMode=control-group,
 *       CollectMode=inactive, KillSignal=SIGTERM, TimeoutStopUSec=10s, SendSIGKILL=yes,
 *       accounting on, PartOf=vigil.target, Before=vigil-workers.target, four
 *       LogExtraFields, ExecStartEx with no-env-expand; and what tier_2 and instances add:
 *       TasksMax=4096, TimeoutStartUSec=90s, Environment=VIGIL_INSTANCE=<i+1>), in SLICE (a SLICE with "%d" in it,
 *       e.g. bench-floor-%d.slice, gives each unit a slice of its own, named after its
 *       index, which PID 1 creates with the unit: the floor of N trees). WINDOW 1 is the
 *       sequential floor (each start waits for the previous job). Prints "started N
 *       failed F elapsed_ns T" and exits 1 if a start failed.
 *   vigil-bench-tool stop-units PREFIX N WINDOW
 *       The floor of stopping them: StopUnit(PREFIX-<i>.service, "replace") for i from N-1
 *       down to 0, at most WINDOW outstanding (WINDOW 1: each stop waits for the previous,
 *       the sequential floor of an OTP ordered stop). Prints "stopped N failed F
 *       elapsed_ns T".
 *   vigil-bench-tool read-cgroups ROUNDS DIR...
 *       The floor of a metrics sweep: opens every cgroup DIR once (O_DIRECTORY), then
 *       ROUNDS times reads the 16 files vigild's sampler reads (CgroupReader's
 *       Detail::Full, in its order) with openat/read/close relative to it, as
 *       cgroup::CgroupDirectory does. Prints "cgroups N rounds R elapsed_ns T missing M"
 *       (T for all rounds; M files that do not exist, e.g. PSI off, summed over rounds).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int usage(void) {
  fprintf(stderr,
          "usage: vigil-bench-tool now\n"
          "       vigil-bench-tool stamp DIR [WORD...]\n"
          "       vigil-bench-tool start-units PREFIX N WINDOW SLICE -- ARGV...\n"
          "       vigil-bench-tool stop-units PREFIX N WINDOW\n"
          "       vigil-bench-tool read-cgroups ROUNDS DIR...\n");
  return 2;
}

static int cmd_stamp(const char* dir) {
  const int64_t t = now_ns();
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/%d", dir, (int)getpid());
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE* f = fopen(tmp, "w");
  if (!f || fprintf(f, "%lld\n", (long long)t) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
    fprintf(stderr, "vigil-bench-tool: stamp %s: %s\n", path, strerror(errno));
    return 1;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int sig = 0;
  sigwait(&set, &sig);
  return 0;
}

/* ---- start-units ---------------------------------------------------------------- */

#define MAX_JOBS 4096
/* Calls awaiting their reply: dbus-daemon allows 128 per connection
 * (max_replies_per_connection); vigild keeps to 100 as well. */
#define MAX_PENDING 100

struct run {
  sd_bus* bus;
  int stop; /* stop-units instead of start-units */
  int n, window, next, outstanding, pending, started, failed;
  const char *prefix, *slice;
  char** argv;
  char* jobs[MAX_JOBS]; /* object paths of outstanding jobs */
  char* early[MAX_JOBS]; /* JobRemoved before the reply: path, result encoded as "path\tres" */
};

static int on_job_removed(sd_bus_message* m, void* ud, sd_bus_error* e) {
  (void)e;
  struct run* r = ud;
  uint32_t id;
  const char *path, *unit, *result;
  if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0) return 0;
  for (int i = 0; i < MAX_JOBS; i++) {
    if (r->jobs[i] && strcmp(r->jobs[i], path) == 0) {
      free(r->jobs[i]);
      r->jobs[i] = NULL;
      r->outstanding--;
      if (strcmp(result, "done") == 0) {
        r->started++;
      } else {
        r->failed++;
        fprintf(stderr, "vigil-bench-tool: %s: job %s\n", unit, result);
      }
      return 0;
    }
  }
  if (strncmp(unit, r->prefix, strlen(r->prefix)) != 0) return 0;
  for (int i = 0; i < MAX_JOBS; i++) {
    if (!r->early[i]) {
      if (asprintf(&r->early[i], "%s\t%s", path, result) < 0) r->early[i] = NULL;
      break;
    }
  }
  return 0;
}

static void job_installed(struct run* r, const char* path) {
  const size_t len = strlen(path);
  for (int i = 0; i < MAX_JOBS; i++) {
    if (r->early[i] && strncmp(r->early[i], path, len) == 0 && r->early[i][len] == '\t') {
      if (strcmp(r->early[i] + len + 1, "done") == 0)
        r->started++;
      else
        r->failed++;
      free(r->early[i]);
      r->early[i] = NULL;
      r->outstanding--;
      return;
    }
  }
  for (int i = 0; i < MAX_JOBS; i++) {
    if (!r->jobs[i]) {
      r->jobs[i] = strdup(path);
      return;
    }
  }
}

static int on_reply(sd_bus_message* m, void* ud, sd_bus_error* e) {
  (void)e;
  struct run* r = ud;
  r->pending--;
  const sd_bus_error* err = sd_bus_message_get_error(m);
  const char* path = NULL;
  if (err || sd_bus_message_read(m, "o", &path) < 0) {
    fprintf(stderr, "vigil-bench-tool: %s: %s\n", r->stop ? "StopUnit" : "StartTransientUnit",
            err ? err->message : "bad reply");
    r->failed++;
    r->outstanding--;
    return 0;
  }
  job_installed(r, path);
  return 0;
}

static int append_properties(struct run* r, sd_bus_message* m, const char* name) {
  char desc[512], slice[512];
  snprintf(desc, sizeof desc, "vigil bench floor %s", name);
  /* SLICE with "%d": a slice of its own per unit (created by PID 1 on the fly), the floor
   * of N trees, each of which vigild gives a slice. */
  const char* mark = strstr(r->slice, "%d");
  if (mark)
    snprintf(slice, sizeof slice, "%.*s%d%s", (int)(mark - r->slice), r->slice, r->next, mark + 2);
  else
    snprintf(slice, sizeof slice, "%s", r->slice);
  int k = sd_bus_message_append(
      m, "(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)", "Description", "s", desc,
      "Slice", "s", slice, "Type", "s", "exec", "Restart", "s", "no", "KillMode", "s",
      "control-group", "CollectMode", "s", "inactive", "KillSignal", "i", (int32_t)SIGTERM,
      "TimeoutStopUSec", "t", (uint64_t)10000000, "SendSIGKILL", "b", 1, "MemoryAccounting", "b",
      1, "CPUAccounting", "b", 1, "TasksAccounting", "b", 1, "IOAccounting", "b", 1);
  if (k < 0) return k;
  /* What tier_2 adds to every worker (config/tiers/tier_2.yaml: tasks_max 4096,
   * start_timeout 90s) and an instance's VIGIL_INSTANCE. */
  char instance[64];
  snprintf(instance, sizeof instance, "VIGIL_INSTANCE=%d", r->next + 1);
  if ((k = sd_bus_message_append(m, "(sv)(sv)(sv)", "TasksMax", "t", (uint64_t)4096,
                                 "TimeoutStartUSec", "t", (uint64_t)90000000, "Environment", "as",
                                 1, instance)) < 0)
    return k;
  if ((k = sd_bus_message_append(m, "(sv)(sv)", "PartOf", "as", 1, "vigil.target", "Before", "as",
                                 1, "vigil-workers.target")) < 0)
    return k;
  /* LogExtraFields: aay, four fields as vigild sets them. */
  const char* fields[4] = {"VIGIL_TREE=bench", "VIGIL_SUPERVISOR=bench", "VIGIL_WORKER=bench/w",
                           "VIGIL_SPEC=0123456789abcdef"};
  if ((k = sd_bus_message_open_container(m, 'r', "sv")) < 0) return k;
  if ((k = sd_bus_message_append(m, "s", "LogExtraFields")) < 0) return k;
  if ((k = sd_bus_message_open_container(m, 'v', "aay")) < 0) return k;
  if ((k = sd_bus_message_open_container(m, 'a', "ay")) < 0) return k;
  for (int i = 0; i < 4; i++)
    if ((k = sd_bus_message_append_array(m, 'y', fields[i], strlen(fields[i]))) < 0) return k;
  if ((k = sd_bus_message_close_container(m)) < 0) return k;
  if ((k = sd_bus_message_close_container(m)) < 0) return k;
  if ((k = sd_bus_message_close_container(m)) < 0) return k;
  /* ExecStartEx: a(sasas), path, argv, flags. */
  if ((k = sd_bus_message_open_container(m, 'r', "sv")) < 0) return k;
  if ((k = sd_bus_message_append(m, "s", "ExecStartEx")) < 0) return k;
  if ((k = sd_bus_message_open_container(m, 'v', "a(sasas)")) < 0) return k;
  if ((k = sd_bus_message_open_container(m, 'a', "(sasas)")) < 0) return k;
  if ((k = sd_bus_message_open_container(m, 'r', "sasas")) < 0) return k;
  if ((k = sd_bus_message_append(m, "s", r->argv[0])) < 0) return k;
  if ((k = sd_bus_message_append_strv(m, r->argv)) < 0) return k;
  if ((k = sd_bus_message_append(m, "as", 1, "no-env-expand")) < 0) return k;
  for (int i = 0; i < 4; i++)
    if ((k = sd_bus_message_close_container(m)) < 0) return k;
  return 0;
}

static int send_next(struct run* r) {
  char name[256];
  snprintf(name, sizeof name, "%s-%d.service", r->prefix, r->stop ? r->n - 1 - r->next : r->next);
  sd_bus_message* m = NULL;
  int k = sd_bus_message_new_method_call(
      r->bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
      "org.freedesktop.systemd1.Manager", r->stop ? "StopUnit" : "StartTransientUnit");
  if (r->stop) {
    if (k >= 0) k = sd_bus_message_append(m, "ss", name, "replace");
  } else {
    if (k >= 0) k = sd_bus_message_append(m, "ss", name, "fail");
    if (k >= 0) k = sd_bus_message_open_container(m, 'a', "(sv)");
    if (k >= 0) k = append_properties(r, m, name);
    if (k >= 0) k = sd_bus_message_close_container(m);
    if (k >= 0) k = sd_bus_message_append(m, "a(sa(sv))", 0);
  }
  if (k >= 0) k = sd_bus_call_async(r->bus, NULL, m, on_reply, r, 0);
  sd_bus_message_unref(m);
  if (k < 0) {
    fprintf(stderr, "vigil-bench-tool: sending %s: %s\n", name, strerror(-k));
    return k;
  }
  r->next++;
  r->outstanding++;
  r->pending++;
  return 0;
}

static int cmd_units(int stop, int argc, char** argv) {
  /* argv: PREFIX N WINDOW SLICE -- ARGV... (start), PREFIX N WINDOW (stop) */
  if (stop ? argc != 3 : argc < 6 || strcmp(argv[4], "--") != 0) return usage();
  struct run r;
  memset(&r, 0, sizeof r);
  r.stop = stop;
  r.prefix = argv[0];
  r.n = atoi(argv[1]);
  r.window = atoi(argv[2]);
  if (!stop) {
    r.slice = argv[3];
    r.argv = argv + 5;
  }
  if (r.n <= 0 || r.window <= 0 || r.window > MAX_JOBS) return usage();
  int k = sd_bus_open_system(&r.bus);
  if (k < 0) {
    fprintf(stderr, "vigil-bench-tool: system bus: %s\n", strerror(-k));
    return 1;
  }
  k = sd_bus_match_signal(r.bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                          "org.freedesktop.systemd1.Manager", "JobRemoved", on_job_removed, &r);
  if (k >= 0)
    k = sd_bus_call_method(r.bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                           "org.freedesktop.systemd1.Manager", "Subscribe", NULL, NULL, "");
  if (k < 0) {
    fprintf(stderr, "vigil-bench-tool: subscribing to JobRemoved: %s\n", strerror(-k));
    return 1;
  }
  const int64_t t0 = now_ns();
  while (r.started + r.failed < r.n) {
    while (r.next < r.n && r.outstanding < r.window && r.pending < MAX_PENDING)
      if (send_next(&r) < 0) return 1;
    k = sd_bus_process(r.bus, NULL);
    if (k < 0) {
      fprintf(stderr, "vigil-bench-tool: bus: %s\n", strerror(-k));
      return 1;
    }
    if (k == 0 && (k = sd_bus_wait(r.bus, UINT64_MAX)) < 0) {
      fprintf(stderr, "vigil-bench-tool: bus: %s\n", strerror(-k));
      return 1;
    }
  }
  const int64_t t1 = now_ns();
  printf("%s %d failed %d elapsed_ns %lld\n", stop ? "stopped" : "started", r.started, r.failed,
         (long long)(t1 - t0));
  sd_bus_flush_close_unref(r.bus);
  return r.failed ? 1 : 0;
}

/* ---- read-cgroups ----------------------------------------------------------------- */

static int read_file(int dirfd, const char* name) {
  char buf[4096];
  const int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
  }
  close(fd);
  return n < 0 ? -1 : 0;
}

static int cmd_read_cgroups(int argc, char** argv) {
  if (argc < 2) return usage();
  const int rounds = atoi(argv[0]);
  if (rounds <= 0) return usage();
  /* CgroupReader::Detail::Full, in its order (src/cgroup/CgroupReader.cpp), then
   * cgroup.events, which CgroupDirectory reads last. */
  static const char* const files[] = {
      "memory.current", "memory.max",   "memory.high",   "memory.peak",  "memory.events",
      "memory.stat",    "pids.current", "pids.max",      "pids.events",  "cpu.stat",
      "cpu.max",        "io.stat",      "cpu.pressure",  "memory.pressure", "io.pressure",
      "cgroup.events"};
  const int n = argc - 1;
  int* dirs = calloc((size_t)n, sizeof *dirs);
  if (!dirs) return 1;
  for (int i = 0; i < n; i++) {
    dirs[i] = open(argv[i + 1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirs[i] < 0) {
      fprintf(stderr, "vigil-bench-tool: %s: %s\n", argv[i + 1], strerror(errno));
      return 1;
    }
  }
  int missing = 0;
  const int64_t t0 = now_ns();
  for (int r = 0; r < rounds; r++)
    for (int i = 0; i < n; i++)
      for (size_t f = 0; f < sizeof files / sizeof files[0]; f++)
        missing += read_file(dirs[i], files[f]) < 0;
  const int64_t t1 = now_ns();
  for (int i = 0; i < n; i++) close(dirs[i]);
  free(dirs);
  printf("cgroups %d rounds %d elapsed_ns %lld missing %d\n", n, rounds, (long long)(t1 - t0),
         missing);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  if (strcmp(argv[1], "now") == 0 && argc == 2) {
    printf("%lld\n", (long long)now_ns());
    return 0;
  }
  if (strcmp(argv[1], "stamp") == 0 && argc >= 3) return cmd_stamp(argv[2]);
  if (strcmp(argv[1], "start-units") == 0) return cmd_units(0, argc - 2, argv + 2);
  if (strcmp(argv[1], "stop-units") == 0) return cmd_units(1, argc - 2, argv + 2);
  if (strcmp(argv[1], "read-cgroups") == 0) return cmd_read_cgroups(argc - 2, argv + 2);
  return usage();
}
