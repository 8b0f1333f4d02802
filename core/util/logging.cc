// Implementation of the logging facade: format a line, write it once.
#include "core/util/logging.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace pullmail {
namespace {

std::atomic<int> g_min_level{-1};
char g_program[64] = "pullmail";

LogLevel LevelFromEnv() {
  const char* env = std::getenv("PULLMAIL_LOG_LEVEL");
  if (env == nullptr) return LogLevel::kInfo;
  std::string v(env);
  if (v == "debug") return LogLevel::kDebug;
  if (v == "warning") return LogLevel::kWarning;
  if (v == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarning: return "WARN";
    case LogLevel::kError: return "ERROR";
    case LogLevel::kFatal: return "FATAL";
  }
  return "?";
}

}  // namespace

void SetMinLogLevel(LogLevel level) { g_min_level.store(static_cast<int>(level)); }

LogLevel MinLogLevel() {
  int v = g_min_level.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(LevelFromEnv());
    g_min_level.store(v);
  }
  return static_cast<LogLevel>(v);
}

void SetLogProgramName(std::string_view name) {
  size_t slash = name.rfind('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  size_t n = std::min(name.size(), sizeof(g_program) - 1);
  std::memcpy(g_program, name.data(), n);
  g_program[n] = '\0';
}

LogMessage::LogMessage(LogLevel level, const char* file, int line)
    : level_(level), file_(file), line_(line) {}

LogMessage::~LogMessage() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char when[32];
  std::strftime(when, sizeof(when), "%H:%M:%S", &tm);
  std::string out = std::string(LevelName(level_)) + " " + when + " " + g_program + ": ";
  if (level_ >= LogLevel::kError || MinLogLevel() == LogLevel::kDebug) {
    const char* base = std::strrchr(file_, '/');
    out += std::string(base ? base + 1 : file_) + ":" + std::to_string(line_) + ": ";
  }
  out += stream_.str();
  out += '\n';
  std::fwrite(out.data(), 1, out.size(), stderr);
  if (level_ == LogLevel::kFatal) {
    std::fflush(stderr);
    std::abort();
  }
}

}  // namespace pullmail
