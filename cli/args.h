// A small command-line parser for `pullmail`'s subcommands. Abseil's flags are
// process-global and know nothing of subcommands, so each command declares
// the options it takes (an OptionSpec list) and parses its own argv tail.
//
// Accepted forms: `--name value`, `--name=value`, boolean `--name`, repeated
// options (`--to a --to b`), positional arguments, and `--` to end options.
// An argument that starts with a single '-' (e.g. `-\Seen` for `flag`) is a
// positional argument, not an option.
#ifndef PULLMAIL_CLI_ARGS_H_
#define PULLMAIL_CLI_ARGS_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace pullmail::cli {

struct OptionSpec {
  std::string name;         // without the leading "--"
  bool takes_value = true;  // false: a boolean switch
  std::string help;         // one line, for --help
  std::string value_name = "VALUE";
};

class Args {
 public:
  // Parses `argv` (the arguments after the subcommand words) against
  // `specs`. "--help" is always accepted as a switch. InvalidArgument for an
  // unknown option, or an option that needs a value and has none; the
  // message names the option. Pure; thread-compatible.
  static absl::StatusOr<Args> Parse(const std::vector<std::string>& argv,
                                    const std::vector<OptionSpec>& specs);

  // True if the option was given at least once.
  bool Has(std::string_view name) const;
  // The last value given for `name`, if any.
  std::optional<std::string> Get(std::string_view name) const;
  // The last value, or `fallback`.
  std::string GetOr(std::string_view name, std::string_view fallback) const;
  // Every value given for `name`, in order.
  std::vector<std::string> GetAll(std::string_view name) const;
  // Positional arguments, in order.
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positional_;
};

// "  --name VALUE   help" lines for a usage message.
std::string FormatOptionHelp(const std::vector<OptionSpec>& specs);

// Parses a decimal integer in [min, max]; InvalidArgument naming `what`.
absl::StatusOr<int64_t> ParseInt(std::string_view text, std::string_view what, int64_t min,
                                 int64_t max);

}  // namespace pullmail::cli

#endif  // PULLMAIL_CLI_ARGS_H_
