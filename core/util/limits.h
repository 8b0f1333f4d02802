// Every protocol limit in one place. docs/PROTOCOL.md cites these numbers;
// parsers and verifiers enforce them. Peers that exceed one get a clear error.
#ifndef PULLMAIL_CORE_UTIL_LIMITS_H_
#define PULLMAIL_CORE_UTIL_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace pullmail::limits {

inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kMaxSignedPayload = 64 * 1024;        // bytes
inline constexpr size_t kMaxMessageId = 128;                  // bytes
inline constexpr size_t kMaxAddress = 320;                    // bytes
inline constexpr size_t kMaxDomain = 253;                     // bytes
inline constexpr size_t kMaxKeyId = 64;                       // bytes
inline constexpr size_t kMaxRecipientsPerNotification = 1000;
inline constexpr uint64_t kMaxBodySize = 64ull * 1024 * 1024;  // bytes
inline constexpr size_t kSha256Size = 32;
inline constexpr size_t kFetchTokenSize = 32;
inline constexpr size_t kSignatureSize = 64;
inline constexpr size_t kMaxHeaderValue = 998;                // RFC 5322 2.1.1
inline constexpr size_t kMaxSummaryList = 100;
inline constexpr size_t kBodyChunkSize = 64 * 1024;           // bytes per BodyChunk
inline constexpr int64_t kMaxClockSkewMs = 5 * 60 * 1000;      // created may be this far ahead
inline constexpr int64_t kMaxRetentionMs = 90ll * 24 * 3600 * 1000;  // expires - created
inline constexpr uint32_t kMaxBatchLeaves = 1024;              // notifications under one batch signature
inline constexpr size_t kMaxBatchPath = 10;                    // log2(kMaxBatchLeaves) proof hashes

}  // namespace pullmail::limits

#endif  // PULLMAIL_CORE_UTIL_LIMITS_H_
