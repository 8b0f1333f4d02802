// A small logging facade (Abseil 20220623 has no absl/log). Lines go to
// stderr as "LEVEL time program: message". Thread-safe: each line is written
// with a single fwrite, which stdio locks.
//
//   PM_LOG(INFO) << "listening on " << addr;
//   PM_LOG(WARNING) << "plaintext gRPC: loopback only";
#ifndef PULLMAIL_CORE_UTIL_LOGGING_H_
#define PULLMAIL_CORE_UTIL_LOGGING_H_

#include <sstream>
#include <string_view>

namespace pullmail {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kFatal = 4 };

// Lines below `level` are dropped. Default kInfo; PULLMAIL_LOG_LEVEL=debug|
// info|warning|error in the environment overrides it at first use.
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();

// Name printed on each line (usually argv[0]'s basename).
void SetLogProgramName(std::string_view name);

// One log line; writes itself when destroyed. kFatal aborts after writing.
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  std::ostringstream stream_;
};

// Swallows the stream when the level is disabled.
struct LogVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace pullmail

#define PM_LOG_LEVEL_DEBUG ::pullmail::LogLevel::kDebug
#define PM_LOG_LEVEL_INFO ::pullmail::LogLevel::kInfo
#define PM_LOG_LEVEL_WARNING ::pullmail::LogLevel::kWarning
#define PM_LOG_LEVEL_ERROR ::pullmail::LogLevel::kError
#define PM_LOG_LEVEL_FATAL ::pullmail::LogLevel::kFatal

#define PM_LOG(level)                                                   \
  (PM_LOG_LEVEL_##level < ::pullmail::MinLogLevel())                    \
      ? (void)0                                                         \
      : ::pullmail::LogVoidify() &                                      \
            ::pullmail::LogMessage(PM_LOG_LEVEL_##level, __FILE__, __LINE__) \
                .stream()

// Aborts with a message when an internal invariant is broken. Never use it on
// anything a peer sent.
#define PM_CHECK(cond)                                                    \
  (cond) ? (void)0                                                        \
         : ::pullmail::LogVoidify() &                                     \
               ::pullmail::LogMessage(PM_LOG_LEVEL_FATAL, __FILE__, __LINE__) \
                       .stream()                                          \
                   << "check failed: " #cond " "

#endif  // PULLMAIL_CORE_UTIL_LOGGING_H_
