// Sealed session cookies (session.h): AES-256-GCM from OpenSSL, a fresh 96-bit nonce per seal.
#include "session.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <boost/json.hpp>
#include <cstring>
#include <memory>

#include "ewarn/base/bytes.h"

namespace ewarn::app {
namespace {

namespace json = boost::json;
using ingest::HttpRequest;
using ingest::HttpResponse;

constexpr size_t kNonce = 12, kTag = 16;
constexpr std::string_view kAad = "ewarn-session-v1";
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

bool FromBase64Url(std::string_view in, std::string* out) {
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const char* at = std::strchr(kAlphabet, c);
    if (c == '\0' || at == nullptr) return false;
    acc = (acc << 6) | static_cast<uint32_t>(at - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

struct CipherFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Cipher = std::unique_ptr<EVP_CIPHER_CTX, CipherFree>;

std::string SetCookie(std::string_view value, int64_t max_age_s) {
  return std::string(kSessionCookie) + "=" + std::string(value) + "; Path=/; Max-Age=" + std::to_string(max_age_s) +
         "; HttpOnly; SameSite=Strict";
}

HttpResponse Json(int status, const json::value& v) {
  HttpResponse r;
  r.status = status;
  r.body = json::serialize(v);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

json::object Who(const ingest::Principal& p) {
  return json::object{{"name", p.name}, {"role", ingest::RoleName(p.role)}, {"area", p.area}};
}

}  // namespace

Result<ingest::Principal> DutyRoomReader(ingest::Ingestor& ingestor, std::string_view authorization) {
  auto p = ingestor.Authorize(authorization, ingest::Role::kDuty);
  if (p.ok() || p.status().code() != StatusCode::kFailedPrecondition) return p;
  p = ingestor.Authorize(authorization, ingest::Role::kLiaison);
  if (p.ok() || p.status().code() != StatusCode::kFailedPrecondition) return p;
  return Status::FailedPrecondition("the duty room is for duty, operator and liaison tokens");
}

SessionCodec::SessionCodec(std::string_view node_secret) {
  std::string material = std::string(kAad) + "\n" + std::string(node_secret);
  unsigned int n = 0;
  EVP_Digest(material.data(), material.size(), key_, &n, EVP_sha256(), nullptr);
}

std::string SessionCodec::Seal(std::string_view token, int64_t expires_ms) const {
  std::string plain;
  PutBigEndian64(&plain, static_cast<uint64_t>(expires_ms));
  plain.append(token);
  std::string out(kNonce + plain.size() + kTag, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  RAND_bytes(bytes, kNonce);
  Cipher c(EVP_CIPHER_CTX_new());
  int len = 0;
  EVP_EncryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, key_, bytes);
  EVP_EncryptUpdate(c.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(kAad.data()),
                    static_cast<int>(kAad.size()));
  EVP_EncryptUpdate(c.get(), bytes + kNonce, &len, reinterpret_cast<const unsigned char*>(plain.data()),
                    static_cast<int>(plain.size()));
  EVP_EncryptFinal_ex(c.get(), bytes + kNonce + len, &len);
  EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, kTag, bytes + kNonce + plain.size());
  return Base64Url(out);
}

Result<std::string> SessionCodec::Open(std::string_view cookie, int64_t now_ms) const {
  std::string raw;
  if (cookie.size() > 4096 || !FromBase64Url(cookie, &raw) || raw.size() < kNonce + 8 + kTag) {
    return Status::PermissionDenied("the session is not valid; sign in again");
  }
  auto* bytes = reinterpret_cast<unsigned char*>(raw.data());
  const size_t n = raw.size() - kNonce - kTag;
  std::string plain(n, '\0');
  Cipher c(EVP_CIPHER_CTX_new());
  int len = 0;
  EVP_DecryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, key_, bytes);
  EVP_DecryptUpdate(c.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(kAad.data()),
                    static_cast<int>(kAad.size()));
  EVP_DecryptUpdate(c.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, bytes + kNonce,
                    static_cast<int>(n));
  EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_TAG, kTag, bytes + kNonce + n);
  if (EVP_DecryptFinal_ex(c.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &len) != 1) {
    return Status::PermissionDenied("the session is not valid; sign in again");
  }
  if (static_cast<int64_t>(GetBigEndian64(plain)) <= now_ms) {
    return Status::PermissionDenied("the session has expired; sign in again");
  }
  return plain.substr(8);
}

std::string CookieValue(const HttpRequest& request, std::string_view name) {
  for (const auto& [header, value] : request.headers) {
    if (header != "cookie") continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      if (pair.size() > name.size() && pair.substr(0, name.size()) == name && pair[name.size()] == '=') {
        return std::string(pair.substr(name.size() + 1));
      }
    }
  }
  return "";
}

ingest::HttpHandler WithSession(const SessionCodec& codec, const Clock& clock, ingest::HttpHandler inner) {
  return [&codec, &clock, inner = std::move(inner)](const HttpRequest& req) -> HttpResponse {
    if (!req.Header("authorization").empty()) return inner(req);
    std::string cookie = CookieValue(req, kSessionCookie);
    if (cookie.empty()) return inner(req);
    if (req.method != "GET" && req.method != "HEAD") {
      std::string origin = req.Header("origin"), host = req.Header("host");
      if (!origin.empty() && origin != "http://" + host && origin != "https://" + host) {
        return HttpResponse::Error(403, "a session may act only from the duty room's own pages", "origin");
      }
    }
    auto token = codec.Open(cookie, clock.NowMs());
    if (!token.ok()) return inner(req);  // answered as for no token: 401, the page signs in again
    HttpRequest with_token = req;
    with_token.headers.emplace_back("authorization", "Bearer " + *token);
    return inner(with_token);
  };
}

void AddSessionRoutes(ingest::HttpRouter& router, const SessionCodec& codec, const Clock& clock,
                      ingest::Ingestor& ingestor) {
  router.Add("POST", "/v1/session", [&](const HttpRequest& req) {
    json::error_code ec;
    json::value body = json::parse(req.body, ec);
    const json::value* token = ec || !body.is_object() ? nullptr : body.as_object().if_contains("token");
    if (token == nullptr || !token->is_string() || token->as_string().empty()) {
      return HttpResponse::Error(400, "body must be a JSON object like {\"token\":\"ewt_...\"}", "token");
    }
    std::string bearer = "Bearer " + std::string(token->as_string());
    auto who = DutyRoomReader(ingestor, bearer);
    if (!who.ok()) return ingest::StatusToHttp(who.status());
    int64_t expires = clock.NowMs() + kSessionLifetimeMs;
    json::object o = Who(*who);
    o["expires_at"] = FormatRfc3339(expires);
    HttpResponse r = Json(200, o);
    r.headers.emplace_back("Set-Cookie", SetCookie(codec.Seal(token->as_string(), expires), kSessionLifetimeMs / 1000));
    return r;
  });
  router.Add("GET", "/v1/session", [&](const HttpRequest& req) {
    auto who = DutyRoomReader(ingestor, req.Header("authorization"));
    if (!who.ok()) return ingest::StatusToHttp(who.status());
    return Json(200, Who(*who));
  });
  router.Add("DELETE", "/v1/session", [](const HttpRequest&) {
    HttpResponse r = Json(200, json::object{{"status", "signed out"}});
    r.headers.emplace_back("Set-Cookie", SetCookie("", 0));
    return r;
  });
}

}  // namespace ewarn::app
