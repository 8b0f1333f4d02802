// Internal to core/mail: GMime start-up and ownership helpers shared by the
// files that use GMime. Not for use outside core/mail.
#ifndef PULLMAIL_CORE_MAIL_GMIME_UTIL_H_
#define PULLMAIL_CORE_MAIL_GMIME_UTIL_H_

#include <gmime/gmime.h>

#include <memory>
#include <string>

namespace pullmail::mail_internal {

// Calls g_mime_init() exactly once per process. Thread-safe.
void InitGMimeOnce();

struct GObjectUnref {
  void operator()(gpointer p) const {
    if (p != nullptr) g_object_unref(p);
  }
};
// Owns one GObject reference.
template <typename T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

// Takes ownership of a g_malloc'd string and returns a copy ("" for null).
std::string TakeGString(char* s);

}  // namespace pullmail::mail_internal

#endif  // PULLMAIL_CORE_MAIL_GMIME_UTIL_H_
