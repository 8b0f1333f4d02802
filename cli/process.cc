// Child process control for the demo (see process.h).
#include "cli/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/init.h"

namespace pullmail::cli {
namespace {

// Polling interval while waiting on a child: short enough to feel instant.
constexpr absl::Duration kPoll = absl::Milliseconds(20);

size_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
}

}  // namespace

std::string ExitDescription(int ws) {
  if (WIFEXITED(ws)) return absl::StrCat("exited with status ", WEXITSTATUS(ws));
  if (WIFSIGNALED(ws)) {
    return absl::StrCat("killed by signal ", WTERMSIG(ws), " (", strsignal(WTERMSIG(ws)), ")");
  }
  return absl::StrCat("wait status ", ws);
}

ChildProcess::~ChildProcess() { Kill(); }

absl::Status ChildProcess::Start(const std::vector<std::string>& argv,
                                 const std::string& stdout_path,
                                 const std::string& stderr_path) {
  if (pid_ > 0) return absl::FailedPreconditionError("process already running");
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  if (access(argv[0].c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot run ", argv[0], ": ", strerror(errno)));
  }
  stdout_path_ = stdout_path;
  stderr_path_ = stderr_path;
  stdout_offset_ = FileSize(stdout_path);
  int out = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) {
    if (out >= 0) close(out);
    if (err >= 0) close(err);
    return absl::UnavailableError(absl::StrCat("cannot open log files: ", strerror(errno)));
  }
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(out);
    close(err);
    return absl::UnavailableError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec. The node dies with
    // the demo (even if the demo is killed), so no node outlives it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(out, 1);
    dup2(err, 2);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  close(out);
  close(err);
  pid_ = pid;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ChildProcess::WaitReady(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (pid_ <= 0) return absl::FailedPreconditionError("process not started");
    auto text = ReadFileToString(stdout_path_);
    if (text.ok() && text->size() > stdout_offset_) {
      for (absl::string_view line :
           absl::StrSplit(absl::string_view(*text).substr(stdout_offset_), '\n')) {
        if (absl::ConsumePrefix(&line, "READY ")) {
          return std::string(absl::StripAsciiWhitespace(line));
        }
      }
    }
    int ws = 0;
    pid_t r = waitpid(pid_, &ws, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return absl::UnavailableError(absl::StrCat(ExitDescription(ws), " before it was ready; ",
                                                 "last lines of ", stderr_path_, ":\n",
                                                 StderrTail()));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "no READY line within ", absl::FormatDuration(timeout), "; last lines of ",
          stderr_path_, ":\n", StderrTail()));
    }
    absl::SleepFor(kPoll);
  }
}

absl::StatusOr<int> ChildProcess::Stop(absl::Duration grace) {
  if (pid_ <= 0) return 0;
  kill(pid_, SIGTERM);
  absl::Time deadline = absl::Now() + grace;
  while (true) {
    int ws = 0;
    pid_t r = waitpid(pid_, &ws, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return ws;
    }
    if (r < 0 && errno != EINTR) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("waitpid: ", strerror(errno)));
    }
    if (absl::Now() > deadline) break;
    absl::SleepFor(kPoll);
  }
  kill(pid_, SIGKILL);
  int ws = 0;
  waitpid(pid_, &ws, 0);
  pid_ = -1;
  return absl::DeadlineExceededError(
      absl::StrCat("did not exit within ", absl::FormatDuration(grace),
                   " of SIGTERM; killed with SIGKILL"));
}

void ChildProcess::Terminate() {
  if (pid_ > 0) kill(pid_, SIGTERM);
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int ws = 0;
  while (waitpid(pid_, &ws, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

std::string ChildProcess::StderrTail(size_t lines) const {
  auto text = ReadFileToString(stderr_path_);
  if (!text.ok()) return "    (no stderr log)\n";
  std::vector<absl::string_view> all =
      absl::StrSplit(absl::StripTrailingAsciiWhitespace(*text), '\n');
  size_t from = all.size() > lines ? all.size() - lines : 0;
  std::string out;
  for (size_t i = from; i < all.size(); ++i) absl::StrAppend(&out, "    ", all[i], "\n");
  return out;
}

}  // namespace pullmail::cli
