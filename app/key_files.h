// The keys every node of a cluster must share: the pseudonym key (HMAC of phones and
// reporters) and the webhook signing key. One node makes its own on first use (DIR/secret,
// DIR/webhook.key); in cluster mode they are provided (`serve --secret-file FILE
// --webhook-key-file FILE`), so the same phone is the same reporter, and the same delivery has
// the same signature, whichever node handles it.
#pragma once

#include <string>

#include "data_dir.h"
#include "ewarn/base/status.h"

namespace ewarn::app {

// The key in `path`: one token of at least 32 characters (trailing newline allowed).
// InvalidArgument naming `flag` (the option or file the user gave) when missing, unreadable or short.
Result<std::string> ReadKeyFile(const std::string& flag, const std::string& path);

// One node's own keys: DIR/secret and DIR/webhook.key, made (32 random bytes as hex, mode 0600)
// on first use and read, through ReadKeyFile, after that.
Result<std::string> LoadOrCreateSecret(const DataDir& dir);
Result<std::string> LoadOrCreateWebhookKey(const DataDir& dir);

// Puts the key in `from` where the node reads it (`to`, mode 0600). A key there already must be
// the same one: FailedPrecondition otherwise (the directory was made with another key, and its
// pseudonyms would not match the cluster's). InvalidArgument naming `flag` for a missing,
// unreadable or short (< 32 characters) file.
Status InstallKeyFile(const DataDir& dir, const std::string& flag, const std::string& from, const std::string& to);

}  // namespace ewarn::app
