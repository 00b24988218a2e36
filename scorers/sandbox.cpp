#include "scorers/sandbox.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/core.h>

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442   // the same number on every architecture (Linux 5.12)
#endif
#ifndef SYS_close_range
#define SYS_close_range 436     // Linux 5.9
#endif

namespace yardstick {
namespace {

// ======================================================================= constants

// The program's uid and gid inside its user namespace.
constexpr uid_t kSandboxUid = 1000;
constexpr gid_t kSandboxGid = 1000;
// Who the program is on the host. An unprivileged harness can only map its own ids (so the
// program is the harness's user, minus everything namespaces and read-only mounts take away).
// A harness running as root maps nobody instead: a program that is the host's root, even
// without capabilities, would own root's files, sockets and /proc entries, and the kernel
// never applies RLIMIT_NPROC to root's processes, so a fork storm would go unbounded.
constexpr uid_t kNobody = 65534;

struct HostIdentity {
  uid_t uid;
  gid_t gid;
  bool switch_ids;   // the program must setresuid/setresgid to it (root harness only)
};

HostIdentity program_identity() {
  if (geteuid() == 0) return {kNobody, kNobody, true};
  return {geteuid(), getegid(), false};
}

// File descriptors as the helper and the program see them.
constexpr int kFdStdin = 0;
constexpr int kFdStdout = 1;
constexpr int kFdStderr = 2;
constexpr int kFdReport = 3;   // the trusted in-program harness's report (see SandboxResult::report)
constexpr int kFdSync = 4;     // parent -> helper: "the id maps are written, go on"
constexpr int kFdStatus = 5;   // helper -> parent: HelperMessage records
constexpr int kFdCount = 6;

// The mount namespace is assembled under a tmpfs mounted over /tmp (in the sandbox's private
// mount namespace only; the host's /tmp is untouched), then pivot_root'ed into.
constexpr const char* kStage = "/tmp";
constexpr const char* kNewRoot = "/tmp/root";
constexpr const char* kNewDev = "/tmp/root/dev";
constexpr const char* kNewDevShm = "/tmp/root/dev/shm";
constexpr const char* kNewTmp = "/tmp/root/tmp";
constexpr const char* kNewProc = "/tmp/root/proc";
constexpr const char* kScratchInside = "/tmp";   // the scratch directory as the program sees it

struct DevNode {
  const char* host;     // bind-mounted from here
  const char* target;   // to here
};
// The only device nodes a program sees; the rest of /dev (disks, ttys, ...) is not there.
constexpr DevNode kDevNodes[] = {
    {"/dev/null", "/tmp/root/dev/null"},       {"/dev/zero", "/tmp/root/dev/zero"},
    {"/dev/full", "/tmp/root/dev/full"},       {"/dev/random", "/tmp/root/dev/random"},
    {"/dev/urandom", "/tmp/root/dev/urandom"},
};
struct DevLink {
  const char* to;
  const char* at;
};
constexpr DevLink kDevLinks[] = {
    {"/proc/self/fd", "/tmp/root/dev/fd"},
    {"/proc/self/fd/0", "/tmp/root/dev/stdin"},
    {"/proc/self/fd/1", "/tmp/root/dev/stdout"},
    {"/proc/self/fd/2", "/tmp/root/dev/stderr"},
};

// mount_setattr(2) attributes, spelled out so the code builds against older kernel headers.
struct MountAttr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};
constexpr uint64_t kMountAttrRdonly = 0x1;
constexpr uint64_t kMountAttrNosuid = 0x2;
constexpr uint64_t kMountAttrNodev = 0x4;
constexpr unsigned kAtRecursive = 0x8000;

// ======================================================================= helper <-> parent

// What went wrong while the helper set up the sandbox, for the error message.
enum class Step : int32_t {
  none, sync, fds, make_private, stage_tmpfs, mkdir_root, bind_root, readonly_root, dev_tmpfs,
  dev_node, dev_link, dev_shm, dev_readonly, scratch_tmpfs, proc, hostname, pivot_root,
  detach_old_root, fork_program, rlimit, chdir, identity, capabilities, no_new_privs, seccomp, exec,
};

const char* step_text(Step step) {
  switch (step) {
    case Step::none: return "start the helper";
    case Step::sync: return "wait for the id maps";
    case Step::fds: return "arrange file descriptors";
    case Step::make_private: return "make the mount tree private";
    case Step::stage_tmpfs: return "mount the staging tmpfs on /tmp";
    case Step::mkdir_root: return "create the new root directory";
    case Step::bind_root: return "bind-mount / as the new root";
    case Step::readonly_root: return "make the new root read-only (mount_setattr, Linux 5.12+)";
    case Step::dev_tmpfs: return "mount a tmpfs on /dev";
    case Step::dev_node: return "bind-mount a device node into /dev";
    case Step::dev_link: return "create the /dev/fd links";
    case Step::dev_shm: return "mount a tmpfs on /dev/shm";
    case Step::dev_readonly: return "make /dev read-only";
    case Step::scratch_tmpfs: return "mount the scratch tmpfs on /tmp";
    case Step::proc: return "mount /proc";
    case Step::hostname: return "set the hostname";
    case Step::pivot_root: return "pivot_root into the new root";
    case Step::detach_old_root: return "detach the old root";
    case Step::fork_program: return "fork the program";
    case Step::rlimit: return "set the rlimits";
    case Step::chdir: return "enter the scratch directory";
    case Step::identity: return "switch to the sandbox's user and group";
    case Step::capabilities: return "drop capabilities";
    case Step::no_new_privs: return "set no_new_privs";
    case Step::seccomp: return "install the seccomp filter";
    case Step::exec: return "execute the program";
  }
  return "?";
}

// One record on the status pipe; each is written with one write() of less than PIPE_BUF bytes,
// so it arrives whole.
struct HelperMessage {
  enum Kind : int32_t { kFailed = 1, kStarted = 2, kFinished = 3 };
  int32_t kind = 0;
  Step step = Step::none;     // kFailed: where
  int32_t error = 0;          // kFailed: errno
  int32_t pid = 0;            // kStarted: the program's pid (= its process group) as the parent sees it
  int32_t wait_status = 0;    // kFinished: the program's wait status
  int32_t timed_out = 0;      // kFinished: the helper killed it at the wall limit
  int64_t cpu_usec = 0;       // kFinished: the program's user + system time
  int64_t max_rss_kb = 0;     // kFinished
};

// Everything the helper and the program need, prepared by the parent before clone(): the
// child of a multi-threaded process may not allocate (another thread may have held the
// allocator's lock at the fork), so it only reads this and makes system calls.
struct ChildPlan {
  bool isolate = true;
  bool probe_only = false;          // set up the namespaces, report, run nothing
  const char* exe = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* scratch = nullptr;    // the program's working directory
  bool switch_ids = false;          // become uid/gid (root harness): the helper in a namespace, else the program
  uid_t uid = 0;                    // as seen from the program's user namespace
  gid_t gid = 0;
  const char* scratch_mount_options = nullptr;
  struct Limit {
    int resource;
    rlim_t soft, hard;
  };
  Limit limits[7] = {};
  int limit_count = 0;
  int64_t wall_usec = 0;
  int fds[kFdCount] = {-1, -1, -1, -1, -1, -1};   // at their target positions
  const sock_fprog* seccomp = nullptr;             // nullptr where no filter is built
};

// ======================================================================= seccomp

// A deny list on top of the namespaces: it closes paths out of the sandbox that namespaces
// and read-only mounts leave open. AF_UNIX sockets reach filesystem sockets of host daemons
// (connect() is allowed on a read-only mount); keyrings are shared with the host user;
// io_uring performs socket operations this filter can't see; the rest is kernel attack
// surface a Python program never needs (new namespaces, mounts, bpf, perf, userfaultfd).
class SeccompFilter {
 public:
  SeccompFilter() {
#if defined(__x86_64__) || defined(__aarch64__)
#if defined(__x86_64__)
    constexpr uint32_t arch = AUDIT_ARCH_X86_64;
#else
    constexpr uint32_t arch = AUDIT_ARCH_AARCH64;
#endif
    const uint32_t eperm = SECCOMP_RET_ERRNO | EPERM;
    add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
    add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0));
    add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));   // another ABI (i386, x32 entry)
    add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
#if defined(__x86_64__)
    add(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1));   // x32 system call numbers
    add(BPF_STMT(BPF_RET | BPF_K, eperm));
#endif
    const long denied[] = {
        __NR_keyctl, __NR_add_key, __NR_request_key, __NR_bpf, __NR_perf_event_open,
        __NR_userfaultfd, __NR_unshare, __NR_setns, __NR_mount, __NR_umount2, __NR_pivot_root,
        __NR_open_tree, __NR_move_mount, __NR_fsopen, __NR_fsconfig, __NR_fsmount, __NR_fspick,
        __NR_mount_setattr,
    };
    for (long nr : denied) deny(nr, eperm);
    for (long nr : {__NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register})
      deny(nr, SECCOMP_RET_ERRNO | ENOSYS);
    // clone3 passes its flags in memory the filter can't read; ENOSYS makes libc fall back to
    // clone(), whose flags it can.
    deny(__NR_clone3, SECCOMP_RET_ERRNO | ENOSYS);
    // clone(): no new namespaces.
    add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 4));
    add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])));
    add(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K,
                 CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
                     CLONE_NEWUTS | CLONE_NEWCGROUP,
                 0, 1));
    add(BPF_STMT(BPF_RET | BPF_K, eperm));
    add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    // socket(): no AF_UNIX (socketpair() stays allowed: it names no path).
    add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 4));
    add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])));
    add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1));
    add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES));
    add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    program_.len = static_cast<unsigned short>(code_.size());
    program_.filter = code_.data();
#endif
  }
  SeccompFilter(const SeccompFilter&) = delete;
  SeccompFilter& operator=(const SeccompFilter&) = delete;

  // nullptr on an architecture the filter isn't written for.
  const sock_fprog* program() const { return code_.empty() ? nullptr : &program_; }

 private:
  void add(sock_filter f) { code_.push_back(f); }
  void deny(long nr, uint32_t action) {
    add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
    add(BPF_STMT(BPF_RET | BPF_K, action));
  }

  std::vector<sock_filter> code_;
  sock_fprog program_{};
};

const SeccompFilter& seccomp_filter() {
  static const SeccompFilter filter;
  return filter;
}

// ======================================================================= the child side
// Only system calls from here to the end of the section (see ChildPlan).

void send_message(int fd, const HelperMessage& m) {
  while (write(fd, &m, sizeof m) < 0 && errno == EINTR) {
  }
}

[[noreturn]] void fail(int status_fd, Step step) {
  HelperMessage m;
  m.kind = HelperMessage::kFailed;
  m.step = step;
  m.error = errno;
  send_message(status_fd, m);
  _exit(126);
}

pid_t raw_fork() {
  // clone() without a new stack is fork() without libc's at-fork handlers, which may take
  // locks another thread of the harness held when the helper was created.
  return static_cast<pid_t>(syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, 0));
}

void close_from(int first) {
  if (syscall(SYS_close_range, first, ~0u, 0) == 0) return;
  rlimit nofile{};
  int last = getrlimit(RLIMIT_NOFILE, &nofile) == 0 ? static_cast<int>(std::min<rlim_t>(nofile.rlim_cur, 1 << 16)) : 1024;
  for (int fd = first; fd < last; ++fd) close(fd);
}

// Moves the plan's descriptors to 0..5 and closes every other one, including those other
// threads of the harness had open for their own jobs when this process was cloned.
bool place_fds(const int (&fds)[kFdCount]) {
  int moved[kFdCount];
  for (int i = 0; i < kFdCount; ++i) {
    moved[i] = fcntl(fds[i], F_DUPFD, kFdCount);
    if (moved[i] < 0) return false;
  }
  for (int i = 0; i < kFdCount; ++i)
    if (dup2(moved[i], i) < 0) return false;   // dup2's copy is not close-on-exec
  close_from(kFdCount);
  return true;
}

bool touch(const char* path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  close(fd);
  return true;
}

// Builds the program's view of the filesystem and enters it: the host's tree read-only, nosuid
// and nodev; a minimal /dev; a private /proc; a writable tmpfs on /tmp. Returns the step that
// failed (errno set) or Step::none.
Step enter_new_root(const ChildPlan& plan) {
  // Nothing mounted from here on propagates back to the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return Step::make_private;
  if (mount("tmpfs", kStage, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700") != 0) return Step::stage_tmpfs;
  if (mkdir(kNewRoot, 0755) != 0) return Step::mkdir_root;
  if (mount("/", kNewRoot, nullptr, MS_BIND | MS_REC, nullptr) != 0) return Step::bind_root;
  // Read-only on every mount of the copy at once. The flags are set in the sandbox's own user
  // namespace, so its root could clear them again: the program runs without capabilities.
  MountAttr attr{kMountAttrRdonly | kMountAttrNosuid | kMountAttrNodev, 0, 0, 0};
  if (syscall(SYS_mount_setattr, AT_FDCWD, kNewRoot, kAtRecursive, &attr, sizeof attr) != 0) return Step::readonly_root;

  if (mount("tmpfs", kNewDev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755") != 0) return Step::dev_tmpfs;
  for (const DevNode& node : kDevNodes) {
    if (!touch(node.target)) return Step::dev_node;
    if (mount(node.host, node.target, nullptr, MS_BIND, nullptr) != 0) return Step::dev_node;
  }
  for (const DevLink& link : kDevLinks)
    if (symlink(link.to, link.at) != 0) return Step::dev_link;
  if (mkdir(kNewDevShm, 01777) != 0) return Step::dev_shm;
  if (mount("tmpfs", kNewDevShm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16m,mode=01777") != 0) return Step::dev_shm;
  if (mount(nullptr, kNewDev, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, nullptr) != 0) return Step::dev_readonly;

  if (mount("tmpfs", kNewTmp, "tmpfs", MS_NOSUID | MS_NODEV, plan.scratch_mount_options) != 0) return Step::scratch_tmpfs;
  // A /proc of the sandbox's own pid namespace; where the kernel refuses it, an empty one
  // (Python runs without /proc) rather than the host's. Read-only: the program's uid may be
  // the host's root, which owns /proc/sysrq-trigger and friends.
  if (mount("proc", kNewProc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, nullptr) != 0 &&
      mount("tmpfs", kNewProc, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "size=4k") != 0)
    return Step::proc;
  if (sethostname("sandbox", 7) != 0) return Step::hostname;

  if (chdir(kNewRoot) != 0) return Step::pivot_root;
  if (syscall(SYS_pivot_root, ".", ".") != 0) return Step::pivot_root;
  if (umount2(".", MNT_DETACH) != 0) return Step::detach_old_root;   // the host's tree, with /tmp staging
  if (chdir("/") != 0) return Step::detach_old_root;
  return Step::none;
}

// No supplementary groups (root's), then the group, then the user. Raw system calls: libc's
// wrappers apply the change to every thread of the process by signalling them, and this
// child of a multi-threaded harness has only one thread but libc's memory says otherwise.
bool switch_identity(const ChildPlan& plan) {
  return syscall(SYS_setgroups, 0, nullptr) == 0 && syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) == 0 &&
         syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) == 0;
}

void drop_capabilities() {
  // An empty bounding set means no execve can grant capabilities again, whatever the uid.
  for (int cap = 0; cap < 64; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  syscall(SYS_capset, &header, data);
}

// The program process: limits, descriptors, identity, then exec. Never returns.
[[noreturn]] void program_main(const ChildPlan& plan) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);   // the helper blocked SIGCHLD
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);   // nothing ignored by the harness carries over
  fcntl(kFdStatus, F_SETFD, FD_CLOEXEC);   // kept only to report a failed exec
  setpgid(0, 0);   // its own process group, which the unsandboxed mode kills as a whole
  umask(022);
  for (int i = 0; i < plan.limit_count; ++i) {
    rlimit r{plan.limits[i].soft, plan.limits[i].hard};
    rlimit now{};
    if (getrlimit(plan.limits[i].resource, &now) == 0 && now.rlim_max != RLIM_INFINITY) {
      r.rlim_max = std::min(r.rlim_max, now.rlim_max);   // only a privileged process may raise it
      r.rlim_cur = std::min(r.rlim_cur, r.rlim_max);
    }
    if (setrlimit(plan.limits[i].resource, &r) != 0) fail(kFdStatus, Step::rlimit);
  }
  if (chdir(plan.scratch) != 0) fail(kFdStatus, Step::chdir);
  if (plan.switch_ids && !plan.isolate && !switch_identity(plan)) fail(kFdStatus, Step::identity);
  drop_capabilities();
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(kFdStatus, Step::no_new_privs);
  if (plan.seccomp != nullptr && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, plan.seccomp) != 0)
    fail(kFdStatus, Step::seccomp);
  execve(plan.exe, plan.argv, plan.envp);
  fail(kFdStatus, Step::exec);
}

int64_t monotonic_usec() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t(t.tv_sec) * 1000000 + t.tv_nsec / 1000;
}

// Writes the decimal digits of v at out (no terminator); returns the end.
char* append_decimal(char* out, long v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = char('0' + v % 10);
    v /= 10;
  } while (v > 0);
  while (n > 0) *out++ = digits[--n];
  return out;
}

// Without a pid namespace: kills every process the program left behind. The helper is a child
// subreaper, so orphans of the tree (setsid'ed or not) become its children; killing its
// children level by level reaches them all.
void kill_orphans(pid_t program_group) {
  char path[64] = "/proc/self/task/";
  char* end = append_decimal(path + std::strlen(path), static_cast<long>(syscall(SYS_gettid)));
  std::memcpy(end, "/children", 10);
  for (int round = 0; round < 10000; ++round) {
    kill(-program_group, SIGKILL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char buf[4096];
      ssize_t n = read(fd, buf, sizeof buf - 1);
      close(fd);
      long pid = 0;
      for (ssize_t i = 0; i < std::max<ssize_t>(n, 0); ++i) {
        if (buf[i] >= '0' && buf[i] <= '9') {
          pid = pid * 10 + (buf[i] - '0');
        } else if (pid > 0) {
          kill(static_cast<pid_t>(pid), SIGKILL);
          pid = 0;
        }
      }
      if (pid > 0) kill(static_cast<pid_t>(pid), SIGKILL);
    }
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD) return;
    timespec pause{0, 1000000};
    nanosleep(&pause, nullptr);
  }
}

// The helper: pid 1 of the sandbox's pid namespace (or, unsandboxed, a subreaper). It builds
// the mount namespace, starts the program, enforces the wall limit, and on the program's end
// kills whatever is left of the tree. When it exits, the kernel kills every process still in
// the pid namespace, so nothing a program starts outlives it.
[[noreturn]] void helper_main(const ChildPlan& plan) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);   // the harness dying takes the sandbox with it
  if (!place_fds(plan.fds)) fail(plan.fds[kFdStatus], Step::fds);
  char go = 0;
  ssize_t got;
  while ((got = read(kFdSync, &go, 1)) < 0 && errno == EINTR) {
  }
  if (got != 1) _exit(125);   // the parent gave up (it could not write the id maps)
  close(kFdSync);
  // First in line for the OOM killer, before the harness holding a model in memory; the
  // program and its children inherit it. Best effort: raising one's own score needs no
  // privilege. (Here, while /proc is still the host's and writable.)
  int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (oom >= 0) {
    if (write(oom, "1000", 4) < 0) {
    }
    close(oom);
  }

  if (plan.isolate) {
    // A root harness's helper becomes the sandbox's user first: files it creates in the
    // namespace's tmpfs mounts need an owner the namespace maps. It keeps its capabilities in
    // the namespace (it never was the namespace's root, whose loss of uid 0 would drop them).
    if (plan.switch_ids && !switch_identity(plan)) fail(kFdStatus, Step::identity);
    Step failed = enter_new_root(plan);
    if (failed != Step::none) fail(kFdStatus, failed);
  } else {
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  }
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);   // the program can't ptrace or read the helper
  HelperMessage done;
  done.kind = HelperMessage::kFinished;
  if (plan.probe_only) {
    send_message(kFdStatus, done);
    _exit(0);
  }

  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);   // waited for with sigtimedwait below
  const int64_t deadline = monotonic_usec() + plan.wall_usec;
  pid_t program = raw_fork();
  if (program < 0) fail(kFdStatus, Step::fork_program);
  if (program == 0) program_main(plan);
  for (int fd = kFdStdin; fd <= kFdReport; ++fd) close(fd);   // the program holds the only copies
  if (!plan.isolate) {
    HelperMessage started;
    started.kind = HelperMessage::kStarted;
    started.pid = program;
    send_message(kFdStatus, started);
  }

  rusage usage{};
  int status = 0;
  for (;;) {
    pid_t reaped;
    bool exited = false;
    while ((reaped = wait4(-1, &status, WNOHANG, &usage)) > 0)
      if (reaped == program) exited = true;   // others are orphans the helper inherited
    if (exited) break;
    int64_t left = deadline - monotonic_usec();
    if (left <= 0) {
      done.timed_out = 1;
      kill(program, SIGKILL);
      while (wait4(program, &status, 0, &usage) < 0 && errno == EINTR) {
      }
      break;
    }
    left = std::min<int64_t>(left, 100000);   // wake up now and then even if a SIGCHLD was merged
    timespec wait{static_cast<time_t>(left / 1000000), static_cast<long>(left % 1000000) * 1000};
    sigtimedwait(&chld, nullptr, &wait);
  }
  if (plan.isolate) {
    kill(-1, SIGKILL);   // from a pid namespace's init: every other process in the namespace
  } else {
    kill_orphans(program);
  }
  done.wait_status = status;
  done.cpu_usec = int64_t(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000 +
                  usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
  done.max_rss_kb = usage.ru_maxrss;
  send_message(kFdStatus, done);
  _exit(0);
}

// ======================================================================= the parent side

// A file descriptor closed when it goes out of scope.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read, write;
};

Pipe make_pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw Error(fmt::format("sandbox: pipe2 failed: {}", std::strerror(errno)));
  return {Fd(fds[0]), Fd(fds[1])};
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

void write_file(const std::string& path, const std::string& text) {
  Fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0 || write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    throw SandboxUnavailable(fmt::format("sandbox: can't write {}: {}", path, std::strerror(errno)));
}

// The new user namespace's only uid and gid, mapped to the program's host identity.
void write_id_maps(pid_t pid, const HostIdentity& id) {
  const std::string proc = fmt::format("/proc/{}/", pid);
  write_file(proc + "uid_map", fmt::format("{} {} 1\n", kSandboxUid, id.uid));
  // An unprivileged writer must deny setgroups before writing gid_map; a root harness keeps it
  // so the program can drop root's supplementary groups.
  if (!id.switch_ids) write_file(proc + "setgroups", "deny");
  write_file(proc + "gid_map", fmt::format("{} {} 1\n", kSandboxGid, id.gid));
}

// Collects one output stream up to a cap, reading (and dropping) past it so the writer never
// blocks on a full pipe.
struct Capture {
  Fd fd;
  std::string* text = nullptr;
  bool* truncated = nullptr;
  size_t cap = 0;

  bool open() const { return fd.get() >= 0; }
  // Reads what is there; closes on end of file. Returns false when nothing more was available.
  bool drain() {
    char buf[65536];
    for (;;) {
      ssize_t n = read(fd.get(), buf, sizeof buf);
      if (n > 0) {
        size_t keep = std::min(static_cast<size_t>(n), cap - std::min(cap, text->size()));
        text->append(buf, keep);
        if (keep < static_cast<size_t>(n)) *truncated = true;
        continue;
      }
      if (n == 0) fd.reset();
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
  }
};

// A scratch directory for the unsandboxed mode, owned by the program's user, removed with
// everything in it.
class HostScratch {
 public:
  explicit HostScratch(const HostIdentity& owner) {
    std::string pattern = (std::filesystem::temp_directory_path() / "yardstick-sandbox-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr)
      throw Error(fmt::format("sandbox: can't create a scratch directory {}: {}", pattern, std::strerror(errno)));
    path_ = pattern;
    if (owner.switch_ids && chown(path_.c_str(), owner.uid, owner.gid) != 0)
      throw Error(fmt::format("sandbox: can't hand the scratch directory {} to uid {}: {}", path_, owner.uid, std::strerror(errno)));
  }
  ~HostScratch() {
    std::error_code ignored;   // a program may leave files it made unremovable; not the run's problem
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ignored);
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The whole environment a program gets: these, plus job.env (which wins on a clash). Nothing
// of the harness's own environment.
std::vector<std::string> program_environment(const std::vector<std::string>& extra, const std::string& scratch) {
  std::vector<std::string> env = extra;
  const std::string base[] = {
      "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + scratch, "TMPDIR=" + scratch, "LANG=C.UTF-8",
  };
  for (const auto& entry : base) {
    std::string_view name = std::string_view(entry).substr(0, entry.find('=') + 1);
    bool overridden = std::any_of(extra.begin(), extra.end(), [&](const std::string& e) { return e.starts_with(name); });
    if (!overridden) env.push_back(entry);
  }
  return env;
}

// Tasks (threads included) whose real uid is `uid`, as RLIMIT_NPROC counts them.
rlim_t tasks_of_user(uid_t uid) {
  const std::string uid_line = fmt::format("Uid:\t{}\t", uid);
  rlim_t tasks = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    Fd fd(open((entry.path() / "status").c_str(), O_RDONLY | O_CLOEXEC));
    char buf[4096];
    ssize_t n = fd.get() >= 0 ? read(fd.get(), buf, sizeof buf - 1) : -1;
    if (n <= 0) continue;
    buf[n] = '\0';
    std::string_view status(buf, static_cast<size_t>(n));
    if (status.find(uid_line) == std::string_view::npos) continue;
    size_t threads = status.find("Threads:\t");
    tasks += threads == std::string_view::npos ? 1 : std::strtoul(buf + threads + 9, nullptr, 10);
  }
  return tasks;
}

struct RunOutcome {
  SandboxResult result;
  bool setup_failed = false;
  Step failed_step = Step::none;
  int failed_errno = 0;
};

RunOutcome run_job(const SandboxJob& job, bool isolate, bool probe_only) {
  using Clock = std::chrono::steady_clock;
  const SandboxLimits& lim = job.limits;
  if (!probe_only && (job.argv.empty() || !job.argv[0].starts_with('/')))
    throw Error(fmt::format("sandbox: argv[0] must be an absolute path, got \"{}\"", job.argv.empty() ? "" : job.argv[0]));

  std::optional<HostScratch> host_scratch;
  const HostIdentity identity = program_identity();
  if (!isolate && !probe_only) host_scratch.emplace(identity);
  const std::string scratch = isolate ? kScratchInside : (host_scratch ? host_scratch->path() : "/");

  // ---- everything the child reads, built now (see ChildPlan)
  std::vector<std::string> argv_strings = probe_only ? std::vector<std::string>{"/"} : job.argv;
  std::vector<std::string> env_strings = program_environment(job.env, scratch);
  std::vector<char*> argv = c_strings(argv_strings);
  std::vector<char*> envp = c_strings(env_strings);
  const std::string scratch_options =
      fmt::format("size={},mode=0700,uid={},gid={}", std::max<int64_t>(lim.scratch_bytes, 4096), kSandboxUid, kSandboxGid);

  ChildPlan plan;
  plan.isolate = isolate;
  plan.probe_only = probe_only;
  plan.exe = argv_strings[0].c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.scratch = scratch.c_str();
  plan.switch_ids = identity.switch_ids;
  plan.uid = isolate ? kSandboxUid : identity.uid;
  plan.gid = isolate ? kSandboxGid : identity.gid;
  plan.scratch_mount_options = scratch_options.c_str();
  const rlim_t cpu = static_cast<rlim_t>(std::max(1.0, std::ceil(lim.cpu_seconds)));
  auto add_limit = [&](int resource, rlim_t soft, rlim_t hard) { plan.limits[plan.limit_count++] = {resource, soft, hard}; };
  add_limit(RLIMIT_CPU, cpu, cpu + 1);   // SIGXCPU at the soft limit, SIGKILL a second later
  add_limit(RLIMIT_AS, static_cast<rlim_t>(lim.memory_bytes), static_cast<rlim_t>(lim.memory_bytes));
  // RLIMIT_NPROC counts the tasks of the real uid in the user namespace: in the sandbox's own
  // namespace that is the sandbox alone; without one it is every process of the user, so the
  // allowance goes on top of what the user already runs. (The kernel never applies it to
  // the host's root, which is why a root harness's programs run as nobody.)
  const rlim_t nproc = static_cast<rlim_t>(lim.max_processes) + (isolate ? 0 : tasks_of_user(identity.uid));
  add_limit(RLIMIT_NPROC, nproc, nproc);
  add_limit(RLIMIT_FSIZE, static_cast<rlim_t>(lim.max_file_bytes), static_cast<rlim_t>(lim.max_file_bytes));
  add_limit(RLIMIT_NOFILE, static_cast<rlim_t>(lim.max_open_files), static_cast<rlim_t>(lim.max_open_files));
  add_limit(RLIMIT_CORE, 0, 0);
  add_limit(RLIMIT_MEMLOCK, 0, 0);
  plan.wall_usec = static_cast<int64_t>(std::max(0.001, lim.wall_seconds) * 1e6);
  plan.seccomp = seccomp_filter().program();

  int stdin_pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stdin_pair) != 0)
    throw Error(fmt::format("sandbox: socketpair failed: {}", std::strerror(errno)));
  // stdin is a socket so that writing to a program that closed it fails with EPIPE
  // (MSG_NOSIGNAL) instead of raising SIGPIPE in the harness.
  Fd stdin_parent(stdin_pair[0]), stdin_child(stdin_pair[1]);
  Pipe out = make_pipe(), err = make_pipe(), report = make_pipe(), sync = make_pipe(), status = make_pipe();
  plan.fds[kFdStdin] = stdin_child.get();
  plan.fds[kFdStdout] = out.write.get();
  plan.fds[kFdStderr] = err.write.get();
  plan.fds[kFdReport] = report.write.get();
  plan.fds[kFdSync] = sync.read.get();
  plan.fds[kFdStatus] = status.write.get();

  const int ns_flags = isolate ? (CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) : 0;
  const auto started = Clock::now();
  pid_t helper = static_cast<pid_t>(syscall(SYS_clone, SIGCHLD | ns_flags, nullptr, nullptr, nullptr, 0));
  if (helper < 0) {
    RunOutcome failed;
    failed.setup_failed = true;
    failed.failed_step = Step::none;
    failed.failed_errno = errno;
    return failed;
  }
  if (helper == 0) helper_main(plan);

  stdin_child.reset();
  out.write.reset();
  err.write.reset();
  report.write.reset();
  sync.read.reset();
  status.write.reset();
  if (isolate) {
    try {
      write_id_maps(helper, identity);
    } catch (...) {
      kill(helper, SIGKILL);
      waitpid(helper, nullptr, 0);
      throw;
    }
  }
  if (write(sync.write.get(), "g", 1) != 1) {
    kill(helper, SIGKILL);
    waitpid(helper, nullptr, 0);
    throw Error(fmt::format("sandbox: can't signal the helper: {}", std::strerror(errno)));
  }
  sync.write.reset();

  RunOutcome outcome;
  SandboxResult& r = outcome.result;
  r.isolated = isolate;
  Capture captures[3] = {
      {std::move(out.read), &r.stdout_text, &r.stdout_truncated, lim.max_output_bytes},
      {std::move(err.read), &r.stderr_text, &r.stderr_truncated, lim.max_output_bytes},
      {std::move(report.read), &r.report, &r.report_truncated, lim.max_output_bytes},
  };
  for (auto& c : captures) set_nonblocking(c.fd.get());
  set_nonblocking(stdin_parent.get());
  set_nonblocking(status.read.get());

  // ---- feed stdin, collect output, wait for the helper's verdict on how the program ended
  const auto backup_deadline = started + std::chrono::microseconds(plan.wall_usec) + std::chrono::seconds(5);
  size_t stdin_sent = 0;
  if (job.stdin_data.empty()) stdin_parent.reset();
  HelperMessage finished{}, failure{};
  pid_t program_group = 0;
  bool killed_by_parent = false;
  while (status.read.get() >= 0 && finished.kind == 0 && failure.kind == 0) {
    pollfd fds[5];
    int n = 0;
    for (auto& c : captures)
      if (c.open()) fds[n++] = {c.fd.get(), POLLIN, 0};
    fds[n++] = {status.read.get(), POLLIN, 0};
    if (stdin_parent.get() >= 0) fds[n++] = {stdin_parent.get(), POLLOUT, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(backup_deadline - Clock::now()).count();
    if (left <= 0) {   // the helper itself is stuck; the tree dies with it
      kill(helper, SIGKILL);
      if (program_group > 0) kill(-program_group, SIGKILL);
      killed_by_parent = true;
      break;
    }
    if (poll(fds, n, static_cast<int>(std::min<int64_t>(left, 1000))) < 0 && errno != EINTR)
      throw Error(fmt::format("sandbox: poll failed: {}", std::strerror(errno)));
    for (auto& c : captures)
      if (c.open()) c.drain();
    if (stdin_parent.get() >= 0) {
      ssize_t sent = send(stdin_parent.get(), job.stdin_data.data() + stdin_sent, job.stdin_data.size() - stdin_sent,
                          MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent > 0) stdin_sent += static_cast<size_t>(sent);
      if ((sent < 0 && errno != EAGAIN && errno != EINTR) || stdin_sent == job.stdin_data.size())
        stdin_parent.reset();   // all sent (end of file for the reader), or the reader is gone
    }
    HelperMessage m;
    ssize_t got = read(status.read.get(), &m, sizeof m);
    if (got == static_cast<ssize_t>(sizeof m)) {
      if (m.kind == HelperMessage::kStarted) program_group = m.pid;
      if (m.kind == HelperMessage::kFinished) finished = m;
      if (m.kind == HelperMessage::kFailed) failure = m;
    } else if (got == 0) {
      status.read.reset();   // the helper died without a word
    }
  }
  int helper_status = 0;
  while (waitpid(helper, &helper_status, 0) < 0 && errno == EINTR) {
  }
  // Every process of the tree is gone now (for a pid namespace the kernel waits for them all
  // before the helper counts as exited), so what they wrote is in the pipes.
  for (auto& c : captures)
    if (c.open()) c.drain();
  r.wall_seconds = std::chrono::duration<double>(Clock::now() - started).count();

  if (failure.kind != 0) {
    outcome.setup_failed = true;
    outcome.failed_step = failure.step;
    outcome.failed_errno = failure.error;
    return outcome;
  }
  if (finished.kind == 0) {
    // The helper was killed (by the parent at the backup deadline, or by the OOM killer).
    r.exit = killed_by_parent ? SandboxExit::wall_timeout : SandboxExit::signaled;
    r.signal = WIFSIGNALED(helper_status) ? WTERMSIG(helper_status) : SIGKILL;
    return outcome;
  }
  r.cpu_seconds = double(finished.cpu_usec) / 1e6;
  r.max_rss_bytes = finished.max_rss_kb * 1024;
  const int ws = finished.wait_status;
  if (finished.timed_out) {
    r.exit = SandboxExit::wall_timeout;
  } else if (WIFSIGNALED(ws)) {
    r.exit = SandboxExit::signaled;
    r.signal = WTERMSIG(ws);
  } else {
    r.exit = SandboxExit::exited;
    r.exit_code = WEXITSTATUS(ws);
  }
  r.cpu_limit_hit = (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGXCPU) ||
                    (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL && r.cpu_seconds >= double(cpu) - 0.05);
  return outcome;
}

std::string describe_failure(const RunOutcome& o) {
  return fmt::format("could not {}: {}", step_text(o.failed_step), std::strerror(o.failed_errno));
}

}  // namespace

Sandbox::Sandbox(SandboxOptions options) {
  if (options.force_unsandboxed) {
    isolated_ = false;
    unavailable_reason_ = "unsandboxed mode forced by the caller";
    return;
  }
  RunOutcome probe = run_job(SandboxJob{}, /*isolate=*/true, /*probe_only=*/true);
  if (!probe.setup_failed && probe.result.exit == SandboxExit::exited) return;
  unavailable_reason_ = probe.setup_failed ? describe_failure(probe) : "the namespace setup probe was killed";
  if (!options.allow_unsandboxed)
    throw SandboxUnavailable(fmt::format(
        "sandbox: Linux namespaces can't be set up ({}); refusing to run untrusted code without "
        "them (opt in to unsandboxed execution explicitly to run it anyway)",
        unavailable_reason_));
  isolated_ = false;
}

SandboxResult Sandbox::run(const SandboxJob& job) const {
  RunOutcome o = run_job(job, isolated_, /*probe_only=*/false);
  if (o.setup_failed) {
    const std::string why = describe_failure(o);
    if (o.failed_step == Step::exec) throw Error(fmt::format("sandbox: can't execute {}: {}", job.argv[0], std::strerror(o.failed_errno)));
    throw Error(fmt::format("sandbox: {} (running {})", why, job.argv[0]));
  }
  return o.result;
}

}  // namespace yardstick
