// Translation of rocksdb::Status into ewarn::Status: the one place it happens (STYLE: errors).
#pragma once

#include <rocksdb/status.h>

#include <string>

#include "ewarn/base/status.h"

namespace ewarn::store {

inline Status FromRocks(const rocksdb::Status& s, const std::string& where) {
  if (s.ok()) return Status::Ok();
  std::string msg = where + ": " + s.ToString();
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return Status::FailedPrecondition(where +
                                      " is in use by another ewarn process (RocksDB lock held)");
  }
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  if (s.IsIOError() || s.IsNoSpace()) return Status::IOError(msg);
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return Status::Unavailable(msg);
  return Status::Internal(msg);
}

}  // namespace ewarn::store
