// Small helpers shared by the libFuzzer harnesses in fuzz/.
#ifndef PULLMAIL_FUZZ_FUZZ_UTIL_H_
#define PULLMAIL_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace pullmail::fuzz {

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// Splits at '\n'; a "\r" before it is dropped, as a connection's line reader
// does. `bare_lf[i]` says whether line i ended in a bare LF. The last piece
// (without a line end) is a line too when it is not empty.
inline std::vector<std::string_view> Lines(std::string_view text,
                                           std::vector<bool>* bare_lf = nullptr) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      out.push_back(text.substr(pos));
      if (bare_lf) bare_lf->push_back(false);
      break;
    }
    size_t end = nl;
    bool crlf = end > pos && text[end - 1] == '\r';
    if (crlf) --end;
    out.push_back(text.substr(pos, end - pos));
    if (bare_lf) bare_lf->push_back(!crlf);
    pos = nl + 1;
  }
  return out;
}

// Takes the first byte as a selector (0 when empty).
inline uint8_t TakeSelector(std::string_view* text) {
  if (text->empty()) return 0;
  uint8_t s = static_cast<uint8_t>((*text)[0]);
  text->remove_prefix(1);
  return s;
}

}  // namespace pullmail::fuzz

#endif  // PULLMAIL_FUZZ_FUZZ_UTIL_H_
