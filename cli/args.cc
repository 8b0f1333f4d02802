// The subcommand argument parser (see args.h).
#include "cli/args.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/util/strings.h"

namespace pullmail::cli {

absl::StatusOr<Args> Args::Parse(const std::vector<std::string>& argv,
                                 const std::vector<OptionSpec>& specs) {
  Args args;
  bool options_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (options_done || a.size() < 3 || a[0] != '-' || a[1] != '-') {
      if (a == "--") {
        options_done = true;
        continue;
      }
      args.positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    std::optional<std::string> inline_value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "help") {
      args.values_["help"].push_back("");
      continue;
    }
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown option --", name));
    if (!spec->takes_value) {
      if (inline_value) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      }
      args.values_[name].push_back("");
      continue;
    }
    if (inline_value) {
      args.values_[name].push_back(*inline_value);
    } else if (i + 1 < argv.size()) {
      args.values_[name].push_back(argv[++i]);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
    }
  }
  return args;
}

bool Args::Has(std::string_view name) const { return values_.find(name) != values_.end(); }

std::optional<std::string> Args::Get(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string Args::GetOr(std::string_view name, std::string_view fallback) const {
  std::optional<std::string> v = Get(name);
  return v ? *v : std::string(fallback);
}

std::vector<std::string> Args::GetAll(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string FormatOptionHelp(const std::vector<OptionSpec>& specs) {
  std::string out;
  for (const OptionSpec& s : specs) {
    if (s.help.empty()) continue;  // hidden
    std::string left = absl::StrCat("  --", s.name, s.takes_value ? " " + s.value_name : "");
    if (left.size() < 26) left.resize(26, ' ');
    absl::StrAppend(&out, left, " ", s.help, "\n");
  }
  absl::StrAppend(&out, "  --help                   this text\n");
  return out;
}

absl::StatusOr<int64_t> ParseInt(std::string_view text, std::string_view what, int64_t min,
                                 int64_t max) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(AV(text), &v) || v < min || v > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(AV(what), ": expected a whole number in ", min, "..", max, ", got '",
                     AV(text), "'"));
  }
  return v;
}

}  // namespace pullmail::cli
