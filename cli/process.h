// Child processes for `pullmail demo`: start a node program with its output
// in log files, wait (with a deadline) for its "READY <address>" line, stop
// it politely (SIGTERM, then SIGKILL after a bound) or kill it outright.
#ifndef PULLMAIL_CLI_PROCESS_H_
#define PULLMAIL_CLI_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pullmail::cli {

// One child process. Not copyable; the destructor SIGKILLs and reaps a
// child that is still running, so no node outlives the demo. Not
// thread-safe.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // Starts argv[0] (a path) with stdout appended to `stdout_path` and
  // stderr to `stderr_path`. A previous run of this object must have been
  // waited for. Errors: the program does not exist or fork fails.
  absl::Status Start(const std::vector<std::string>& argv, const std::string& stdout_path,
                     const std::string& stderr_path);

  // Waits until the stdout log (from the offset where this run started)
  // holds a line "READY <address>", and returns the address. Errors:
  // kUnavailable if the child exits first (with its exit status and the
  // tail of its stderr), kDeadlineExceeded after `timeout`.
  absl::StatusOr<std::string> WaitReady(absl::Duration timeout);

  // Sends SIGTERM and waits up to `grace`; then SIGKILL. Returns the exit
  // status as from waitpid (see ExitDescription). OK if not running.
  absl::StatusOr<int> Stop(absl::Duration grace);

  // Sends SIGTERM without waiting (to stop several children in parallel;
  // then call Stop, whose grace counts from its own call).
  void Terminate();

  // SIGKILL and reap, at once (the crash case).
  void Kill();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // The last lines of the stderr log, for error messages.
  std::string StderrTail(size_t lines = 8) const;

 private:
  pid_t pid_ = -1;
  std::string stdout_path_;
  std::string stderr_path_;
  size_t stdout_offset_ = 0;
};

// "exited with status 0", "killed by signal 9 (Killed)".
std::string ExitDescription(int wait_status);

}  // namespace pullmail::cli

#endif  // PULLMAIL_CLI_PROCESS_H_
