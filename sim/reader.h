// What a reader does with one copy (message, user): whether they open it,
// after how long, and whether they report it as spam. Every choice is a pure
// function of (seed, message, user), so the pull and the push world see the
// very same readers and their figures compare like with like.
#ifndef PULLMAIL_SIM_READER_H_
#define PULLMAIL_SIM_READER_H_

#include <cstdint>

#include "sim/distribution.h"
#include "sim/scenario.h"

namespace pullmail::sim {

struct ReaderChoice {
  bool reads = false;     // opens the message if it is visible
  double delay = 0;       // s after it becomes visible
  bool reports = false;   // reports it as spam after reading
  bool filtered = false;  // push only: the content filter junks it (spam caught,
                          // or a legitimate copy misjudged)
};

inline ReaderChoice DrawReader(const Scenario& sc, uint32_t message, uint32_t user, bool spam) {
  const uint64_t h = Mix64(sc.run.seed ^ 0x7EADE75ull, message, user);
  const uint64_t h2 = Mix64(h), h3 = Mix64(h2), h4 = Mix64(h3);
  const ReaderConfig& r = sc.readers;
  ReaderChoice c;
  c.reads = UnitFromHash(h) < (spam ? r.spam_read_probability : r.legit_read_probability);
  c.delay = r.read_delay.Quantile(UnitFromHash(h2));
  c.reports = UnitFromHash(h3) < (spam ? r.spam_report_probability : r.legit_report_probability);
  c.filtered = UnitFromHash(h4) <
               (spam ? sc.push.filter_catch_rate : sc.push.filter_false_positive_rate);
  return c;
}

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_READER_H_
