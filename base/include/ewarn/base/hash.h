// Hashes with a fixed, documented definition: the same bytes give the same result on every
// machine and in every release, because partitions, digests and pseudonyms depend on them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ewarn {

// Kafka's default partitioner hash (murmur2, seed 0x9747b28c), as in the Java client, so a Java
// producer and ewarn place a key in the same partition.
uint32_t Murmur2(std::string_view key);
// Partition of `key` among `partitions` (> 0): (murmur2(key) & 0x7fffffff) % partitions.
int32_t PartitionForKey(std::string_view key, int32_t partitions);

// Incremental SHA-256 (OpenSSL), for digests of state and streams.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view bytes);
  // Length-prefixed update, so ("ab","c") and ("a","bc") hash differently.
  void UpdateField(std::string_view bytes);
  std::string HexDigest();  // finalizes; call once

 private:
  void* ctx_;  // EVP_MD_CTX*, kept opaque so OpenSSL stays out of the header
};

std::string Sha256Hex(std::string_view bytes);
// HMAC-SHA-256 of `message` under `key`, hex-encoded.
std::string HmacSha256Hex(std::string_view key, std::string_view message);
// Stable 64-bit hash (first 8 bytes of SHA-256), for deterministic ids.
uint64_t StableHash64(std::string_view bytes);

}  // namespace ewarn
