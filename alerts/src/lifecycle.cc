// The alert lifecycle processor (see lifecycle.h for the contract and the state layout).
//
// Per-partition bookkeeping (timers, held notifications, silences) lives in a few keys of
// alerts.tasks rather than one key per item: TaskState has no range scans, and a partition
// holds at most a few hundred open alerts, so a whole list is cheap to rewrite once per commit
// (the write-back cache writes each dirty key once).
#include "ewarn/alerts/lifecycle.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>

#include "ewarn/base/bytes.h"
#include "ewarn/base/hash.h"
#include "ewarn/schemas/events.h"

namespace ewarn::alerts {
namespace {

// --- small encodings for the task lists ---

void PutString(std::string* out, std::string_view s) {
  PutBigEndian32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool done() const { return in_.empty(); }
  bool ok() const { return ok_; }
  uint64_t U64() {
    if (in_.size() < 8) return Fail();
    uint64_t v = GetBigEndian64(in_);
    in_.remove_prefix(8);
    return v;
  }
  uint32_t U32() {
    if (in_.size() < 4) return static_cast<uint32_t>(Fail());
    uint32_t v = GetBigEndian32(in_);
    in_.remove_prefix(4);
    return v;
  }
  std::string_view Str() {
    uint32_t n = U32();
    if (!ok_ || in_.size() < n) {
      Fail();
      return {};
    }
    std::string_view s = in_.substr(0, n);
    in_.remove_prefix(n);
    return s;
  }

 private:
  uint64_t Fail() {
    ok_ = false;
    in_ = {};
    return 0;
  }
  std::string_view in_;
  bool ok_ = true;
};

struct Timer {
  int64_t deadline_ms = 0;
  std::string alert_id;
  auto operator<=>(const Timer&) const = default;
};

struct Held {  // a notification waiting for its recipient's group window to end
  std::string event_id;
  v1::AlertEvent alert;
};

struct Group {
  int64_t window_end_ms = 0;
  std::vector<Held> held;
};

struct TaskClock {
  int64_t now_ms = 0;
  int64_t liaisons_end = 0;
};

std::string TaskKey(int32_t partition, std::string_view name) {
  std::string k;
  PutBigEndian32(&k, static_cast<uint32_t>(partition));
  k.append(name);
  return k;
}

Status Bad(std::string_view what) {
  return Status::Corruption("alerts.tasks: unreadable " + std::string(what));
}

std::string EncodeClock(const TaskClock& c) {
  std::string out;
  PutBigEndian64(&out, static_cast<uint64_t>(c.now_ms));
  PutBigEndian64(&out, static_cast<uint64_t>(c.liaisons_end));
  return out;
}

Result<TaskClock> DecodeClock(std::string_view v) {
  Reader r(v);
  TaskClock c{static_cast<int64_t>(r.U64()), static_cast<int64_t>(r.U64())};
  if (!r.ok()) return Bad("clock");
  return c;
}

std::string EncodeTimers(const std::set<Timer>& timers) {
  std::string out;
  for (const auto& t : timers) {
    PutBigEndian64(&out, static_cast<uint64_t>(t.deadline_ms));
    PutString(&out, t.alert_id);
  }
  return out;
}

Result<std::set<Timer>> DecodeTimers(std::string_view v) {
  Reader r(v);
  std::set<Timer> timers;
  while (!r.done()) {
    Timer t;
    t.deadline_ms = static_cast<int64_t>(r.U64());
    t.alert_id = std::string(r.Str());
    if (!r.ok()) return Bad("timers");
    timers.insert(std::move(t));
  }
  return timers;
}

std::string EncodeGroups(const std::map<std::string, Group>& groups) {
  std::string out;
  for (const auto& [recipient, g] : groups) {
    PutString(&out, recipient);
    PutBigEndian64(&out, static_cast<uint64_t>(g.window_end_ms));
    PutBigEndian32(&out, static_cast<uint32_t>(g.held.size()));
    for (const auto& h : g.held) {
      PutString(&out, h.event_id);
      PutString(&out, h.alert.SerializeAsString());
    }
  }
  return out;
}

Result<std::map<std::string, Group>> DecodeGroups(std::string_view v) {
  Reader r(v);
  std::map<std::string, Group> groups;
  while (!r.done()) {
    std::string recipient(r.Str());
    Group g;
    g.window_end_ms = static_cast<int64_t>(r.U64());
    uint32_t n = r.U32();
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
      Held h;
      h.event_id = std::string(r.Str());
      std::string_view bytes = r.Str();
      if (!r.ok() || !h.alert.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return Bad("groups");
      g.held.push_back(std::move(h));
    }
    if (!r.ok()) return Bad("groups");
    groups.emplace(std::move(recipient), std::move(g));
  }
  return groups;
}

std::string EncodeSilences(const std::vector<v1::Silence>& silences) {
  std::string out;
  for (const auto& s : silences) PutString(&out, s.SerializeAsString());
  return out;
}

Result<std::vector<v1::Silence>> DecodeSilences(std::string_view v) {
  Reader r(v);
  std::vector<v1::Silence> out;
  while (!r.done()) {
    std::string_view bytes = r.Str();
    v1::Silence s;
    if (!r.ok() || !s.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return Bad("silences");
    out.push_back(std::move(s));
  }
  return out;
}

// --- areas, levels, routes ---

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool EqualFold(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// How many levels `ancestor` lies above `area` (0: the same area), or -1 when it is not one of
// its ancestors.
int LevelsAbove(std::string_view ancestor, std::string_view area) {
  std::vector<std::string_view> a = Segments(ancestor), b = Segments(area);
  if (a.empty() || a.size() > b.size()) return -1;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!EqualFold(a[i], b[i])) return -1;
  }
  return static_cast<int>(b.size() - a.size());
}

int EffectiveTier(const v1::Liaison& l) { return l.tier() <= 0 ? 1 : l.tier(); }

// The top factor: the largest contribution, the first one on ties.
const v1::RiskFactor* TopFactor(const v1::RiskAssessment& r) {
  const v1::RiskFactor* top = nullptr;
  for (const auto& f : r.factors()) {
    if (top == nullptr || f.contribution() > top->contribution()) top = &f;
  }
  return top;
}

std::string Summary(const v1::RiskAssessment& r, std::string_view area) {
  const v1::RiskFactor* top = TopFactor(r);
  char score[32];
  std::snprintf(score, sizeof score, "%.2f", r.score());
  std::string what = top == nullptr ? "risk" : (top->explanation().empty() ? top->detector() : top->explanation());
  std::string where = r.subject_id();
  if (!r.is_area() && !area.empty()) where += " (" + std::string(area) + ")";
  return std::string(LevelName(r.level())) + " at " + where + ": " + what + " (score " + score + ")";
}

std::string ChannelName(v1::Delivery::Channel c) {
  switch (c) {
    case v1::Delivery::CHANNEL_WEBHOOK: return "webhook";
    case v1::Delivery::CHANNEL_SMS: return "sms";
    case v1::Delivery::CHANNEL_EMAIL: return "email";
    case v1::Delivery::CHANNEL_CAP: return "cap";
    default: return "unspecified";
  }
}

// The readable text of a delivery: one line per carried alert event.
std::string DeliveryBody(const std::vector<Held>& held) {
  std::string body;
  for (const auto& h : held) {
    if (!body.empty()) body += "\n";
    const v1::AlertEvent& a = h.alert;
    body += "[" + std::string(LevelName(a.level())) + "] " + a.alert_id() + " " + std::string(KindName(a.kind()));
    if (a.tier() > 1) body += " (tier " + std::to_string(a.tier()) + ")";
    body += ": " + a.summary();
  }
  return body;
}

// --- the processor ---

class LifecycleProcessor final : public processors::Processor {
 public:
  LifecycleProcessor(const v1::AlertRules& rules, store::EventLog& log) : rules_(rules), log_(log) {}

  Status Process(const v1::Event& event, const processors::RecordContext&, processors::TaskState& ts) override {
    // Refuse what this stage cannot use before anything changes, so a dead-lettered record
    // leaves no trace in the state.
    switch (event.body_case()) {
      case v1::Event::kRisk:
        if (event.risk().subject_id().empty()) return Status::InvalidArgument("risk assessment without subject_id");
        if (event.risk().area().empty() && !event.risk().is_area()) {
          return Status::InvalidArgument("risk assessment for '" + event.risk().subject_id() + "' without area");
        }
        break;
      case v1::Event::kAck: {
        ASSIGN_OR_RETURN(std::optional<AlertRecord> rec, Load(ts, event.ack().alert_id()));
        if (!rec) return Status::InvalidArgument("acknowledgement of unknown alert '" + event.ack().alert_id() + "'");
        if (rec->state != AlertState::kOpen) {
          return Status::InvalidArgument("alert '" + event.ack().alert_id() + "' is already " +
                                         std::string(AlertStateName(rec->state)));
        }
        if (rec->partition != ts.partition()) {
          return Status::InvalidArgument("acknowledgement of alert '" + event.ack().alert_id() + "' reached partition " +
                                         std::to_string(ts.partition()) + "; the alert lives in partition " +
                                         std::to_string(rec->partition));
        }
        break;
      }
      case v1::Event::kSilence:
        if (event.silence().silence_id().empty()) return Status::InvalidArgument("silence without silence_id");
        break;
      case v1::Event::kTick:
        break;
      default:
        return Status::InvalidArgument("the alert stage does not take '" + std::string(schemas::BodyName(event)) +
                                       "' events");
    }

    RETURN_IF_ERROR(LoadTask(ts));
    if (event.has_tick()) clock_.liaisons_end = std::max(clock_.liaisons_end, event.tick().liaisons_end());
    clock_.now_ms = std::max(clock_.now_ms, event.header().event_time_ms());
    dirty_clock_ = true;

    RETURN_IF_ERROR(FireTimers(ts));
    RETURN_IF_ERROR(FlushGroups(ts));

    switch (event.body_case()) {
      case v1::Event::kRisk: RETURN_IF_ERROR(OnRisk(event, ts)); break;
      case v1::Event::kAck: RETURN_IF_ERROR(OnAck(event.ack(), ts)); break;
      case v1::Event::kSilence: OnSilence(event.silence()); break;
      default: break;
    }
    SaveTask(ts);
    return Status::Ok();
  }

 private:
  // --- task bookkeeping ---

  Status LoadTask(processors::TaskState& ts) {
    int32_t p = ts.partition();
    ASSIGN_OR_RETURN(std::optional<std::string> c, ts.Get(kTaskStore, TaskKey(p, "clock")));
    ASSIGN_OR_RETURN(std::optional<std::string> t, ts.Get(kTaskStore, TaskKey(p, "timers")));
    ASSIGN_OR_RETURN(std::optional<std::string> g, ts.Get(kTaskStore, TaskKey(p, "groups")));
    ASSIGN_OR_RETURN(std::optional<std::string> s, ts.Get(kTaskStore, TaskKey(p, "silences")));
    clock_ = TaskClock{};
    timers_.clear();
    groups_.clear();
    silences_.clear();
    if (c) {
      ASSIGN_OR_RETURN(clock_, DecodeClock(*c));
    }
    if (t) {
      ASSIGN_OR_RETURN(timers_, DecodeTimers(*t));
    }
    if (g) {
      ASSIGN_OR_RETURN(groups_, DecodeGroups(*g));
    }
    if (s) {
      ASSIGN_OR_RETURN(silences_, DecodeSilences(*s));
    }
    dirty_clock_ = dirty_timers_ = dirty_groups_ = dirty_silences_ = false;
    return Status::Ok();
  }

  void SaveTask(processors::TaskState& ts) {
    int32_t p = ts.partition();
    if (dirty_clock_) ts.Put(kTaskStore, TaskKey(p, "clock"), EncodeClock(clock_));
    if (dirty_timers_) ts.Put(kTaskStore, TaskKey(p, "timers"), EncodeTimers(timers_));
    if (dirty_groups_) ts.Put(kTaskStore, TaskKey(p, "groups"), EncodeGroups(groups_));
    if (dirty_silences_) ts.Put(kTaskStore, TaskKey(p, "silences"), EncodeSilences(silences_));
  }

  Result<std::optional<AlertRecord>> Load(processors::TaskState& ts, std::string_view alert_id) {
    ASSIGN_OR_RETURN(std::optional<std::string> v, ts.Get(kAlertStore, alert_id));
    if (!v) return std::optional<AlertRecord>();
    ASSIGN_OR_RETURN(AlertRecord rec, DecodeAlertRecord(*v));
    return std::optional<AlertRecord>(std::move(rec));
  }

  void Save(processors::TaskState& ts, const AlertRecord& rec) {
    ts.Put(kAlertStore, rec.alert.alert_id(), EncodeAlertRecord(rec));
  }

  std::string SubjectKey(int32_t partition, std::string_view subject) {
    std::string k;
    PutBigEndian32(&k, static_cast<uint32_t>(partition));
    k.append(subject);
    return k;
  }

  // --- liaisons ---

  // Reads ref.liaisons up to the partition's bound (offsets < clock_.liaisons_end).
  Status LoadLiaisons() {
    const std::string topic(schemas::topic::kLiaisons);
    while (liaisons_loaded_to_ < clock_.liaisons_end) {
      Result<std::vector<store::LogRecord>> batch = log_.Read({topic, 0}, liaisons_loaded_to_, 1000);
      if (!batch.ok()) {
        return batch.status().WithContext("alerts: reading " + topic + " up to offset " +
                                          std::to_string(clock_.liaisons_end));
      }
      if (batch->empty()) {
        return Status::Unavailable("alerts: " + topic + " ends before offset " + std::to_string(clock_.liaisons_end) +
                                   " named by a tick");
      }
      for (const auto& r : *batch) {
        if (r.offset >= clock_.liaisons_end) {
          liaisons_loaded_to_ = clock_.liaisons_end;  // compaction may leave gaps
          break;
        }
        liaisons_loaded_to_ = r.offset + 1;
        Result<v1::Event> e = schemas::DecodeEvent(r.value);
        // An unreadable reference record is skipped the same way in every run.
        if (!e.ok() || !e->has_liaison() || e->liaison().liaison_id().empty()) continue;
        liaisons_[e->liaison().liaison_id()] = e->liaison();
      }
    }
    return Status::Ok();
  }

  // The routes matching an alert's area and category (any level).
  std::vector<const v1::AlertRoute*> RoutesFor(std::string_view area, std::string_view category) const {
    std::vector<const v1::AlertRoute*> out;
    for (const auto& route : rules_.routes()) {
      if (!AreaPrefixCovers(route.area_prefix(), area)) continue;
      bool category_ok = route.categories().empty();
      for (const auto& c : route.categories()) category_ok = category_ok || CategoryMatches(c, category);
      if (category_ok) out.push_back(&route);
    }
    return out;
  }

  // The level at which an alert opens: the lowest min_level of the matching routes (0: none).
  int Threshold(std::string_view area, std::string_view category) const {
    int threshold = 0;
    for (const auto* r : RoutesFor(area, category)) {
      int min = std::max<int>(r->min_level(), v1::RISK_LEVEL_LOW);
      threshold = threshold == 0 ? min : std::min(threshold, min);
    }
    return threshold;
  }

  // Liaisons in scope of the routes that apply to `a` at its level, by id. `tier` 0: any tier.
  Result<std::vector<const v1::Liaison*>> InScope(const v1::AlertEvent& a, int tier) {
    RETURN_IF_ERROR(LoadLiaisons());
    std::vector<const v1::Liaison*> out;
    std::vector<const v1::AlertRoute*> routes = RoutesFor(a.area(), a.category());
    for (const auto& [id, l] : liaisons_) {  // std::map: sorted by id
      if (tier != 0 && EffectiveTier(l) != tier) continue;
      int above = LevelsAbove(l.area(), a.area());
      if (above < 0) continue;
      for (const auto* r : routes) {
        if (static_cast<int>(a.level()) < static_cast<int>(r->min_level()) || above > r->levels_up()) continue;
        bool role_ok = std::any_of(r->roles().begin(), r->roles().end(),
                                   [&](int role) { return role == static_cast<int>(l.role()); });
        if (role_ok) {
          out.push_back(&l);
          break;
        }
      }
    }
    return out;
  }

  Result<std::vector<const v1::Liaison*>> Commission(const v1::AlertEvent& a) {
    RETURN_IF_ERROR(LoadLiaisons());
    std::vector<const v1::Liaison*> out;
    for (const auto& [id, l] : liaisons_) {
      if (l.role() == v1::LIAISON_ROLE_COMMISSION && LevelsAbove(l.area(), a.area()) >= 0) out.push_back(&l);
    }
    return out;
  }

  int64_t DeadlineFor(int level) const {
    for (const auto& d : rules_.ack_deadlines()) {
      if (static_cast<int>(d.level()) == level && d.within_ms() > 0) return clock_.now_ms + d.within_ms();
    }
    return 0;
  }

  bool Silenced(const v1::AlertEvent& a) const {
    return std::any_of(silences_.begin(), silences_.end(), [&](const v1::Silence& s) {
      return clock_.now_ms < s.until_ms() && AreaPrefixCovers(s.area(), a.area()) &&
             CategoryMatches(s.category(), a.category());
    });
  }

  // --- outputs ---

  // Writes one lifecycle event of `rec` (kind and changed fields already set in rec.alert,
  // except those given here) and returns its event id.
  std::string EmitAlert(processors::TaskState& ts, AlertRecord& rec, v1::AlertEvent event) {
    std::string event_id = rec.alert.alert_id() + "/" + std::to_string(rec.events++);
    rec.updated_ms = clock_.now_ms;
    rec.alert.set_kind(event.kind());
    v1::Event out;
    auto* h = out.mutable_header();
    h->set_schema_version(schemas::kSchemaVersion);
    h->set_event_id(event_id);
    h->set_event_time_ms(clock_.now_ms);
    h->set_source(v1::SOURCE_PROCESSOR);
    *out.mutable_alert() = std::move(event);
    ts.Emit(std::string(schemas::topic::kAlerts), rec.alert.alert_id(), std::move(out));
    return event_id;
  }

  // The alert's current picture as an event of `kind`, with `recipients` (or none).
  static v1::AlertEvent Snapshot(const AlertRecord& rec, v1::AlertEvent::Kind kind,
                                 const std::vector<std::string>& recipients = {}) {
    v1::AlertEvent e = rec.alert;
    e.set_kind(kind);
    e.clear_recipient_ids();
    for (const auto& r : recipients) e.add_recipient_ids(r);
    return e;
  }

  void EmitDeliveries(processors::TaskState& ts, const v1::Liaison& l, std::vector<Held> held) {
    std::string ids;
    for (const auto& h : held) ids += h.event_id + "\n";
    std::string body = DeliveryBody(held);
    std::vector<std::pair<v1::Delivery::Channel, std::string>> addresses;
    if (!l.webhook_url().empty()) {
      addresses.emplace_back(l.webhook_cap() ? v1::Delivery::CHANNEL_CAP : v1::Delivery::CHANNEL_WEBHOOK, l.webhook_url());
    }
    if (!l.phone().empty()) addresses.emplace_back(v1::Delivery::CHANNEL_SMS, l.phone());
    if (!l.email().empty()) addresses.emplace_back(v1::Delivery::CHANNEL_EMAIL, l.email());
    for (const auto& [channel, address] : addresses) {
      Sha256 h;
      h.UpdateField(l.liaison_id());
      h.UpdateField(ChannelName(channel));
      h.UpdateField(ids);
      std::string delivery_id = "D" + h.HexDigest().substr(0, 24);
      v1::Event out;
      auto* hd = out.mutable_header();
      hd->set_schema_version(schemas::kSchemaVersion);
      hd->set_event_id(delivery_id);
      hd->set_event_time_ms(clock_.now_ms);
      hd->set_source(v1::SOURCE_PROCESSOR);
      v1::Delivery* d = out.mutable_delivery();
      d->set_delivery_id(delivery_id);
      d->set_alert_id(held.front().alert.alert_id());
      d->set_recipient_id(l.liaison_id());
      d->set_recipient_name(l.name());
      d->set_language(l.language().empty() ? "en" : l.language());
      d->set_channel(channel);
      d->set_address(address);
      d->set_body(body);
      d->set_state(v1::Delivery::STATE_PENDING);
      for (const auto& x : held) *d->add_alerts() = x.alert;
      ts.Emit(std::string(schemas::topic::kOutbox), l.liaison_id(), std::move(out));
    }
  }

  // Notifies `recipient` of one alert event: at once when no group window is running for
  // them, else held until the window ends (FlushGroups).
  void Notify(processors::TaskState& ts, const v1::Liaison& l, const std::string& event_id, const v1::AlertEvent& a) {
    Held h{event_id, a};
    int64_t window = rules_.group_window_ms();
    auto it = groups_.find(l.liaison_id());
    if (window > 0 && it != groups_.end() && it->second.window_end_ms > clock_.now_ms) {
      it->second.held.push_back(std::move(h));
      dirty_groups_ = true;
      return;
    }
    EmitDeliveries(ts, l, {std::move(h)});
    if (window > 0) {
      groups_[l.liaison_id()] = Group{clock_.now_ms + window, {}};
      dirty_groups_ = true;
    }
  }

  Status FlushGroups(processors::TaskState& ts) {
    std::vector<std::string> ended;
    for (auto& [recipient, g] : groups_) {
      if (g.window_end_ms > clock_.now_ms) continue;
      ended.push_back(recipient);
    }
    if (ended.empty()) return Status::Ok();
    RETURN_IF_ERROR(LoadLiaisons());
    dirty_groups_ = true;
    for (const auto& recipient : ended) {
      Group& g = groups_[recipient];
      if (g.held.empty()) {
        groups_.erase(recipient);
        continue;
      }
      auto l = liaisons_.find(recipient);
      if (l != liaisons_.end()) EmitDeliveries(ts, l->second, std::move(g.held));
      // The flush opens the next window: at most one notification per recipient per window.
      g = Group{clock_.now_ms + rules_.group_window_ms(), {}};
    }
    return Status::Ok();
  }

  // Routes `event` (already emitted as `event_id`) to `to`, unless silenced.
  void Deliver(processors::TaskState& ts, const std::vector<const v1::Liaison*>& to, const std::string& event_id,
               const v1::AlertEvent& event) {
    if (event.silenced()) return;
    for (const v1::Liaison* l : to) Notify(ts, *l, event_id, event);
  }

  static std::vector<std::string> Ids(const std::vector<const v1::Liaison*>& ls) {
    std::vector<std::string> out;
    for (const auto* l : ls) out.push_back(l->liaison_id());
    return out;
  }

  static void AddRecipients(AlertRecord& rec, const std::vector<std::string>& ids) {
    std::set<std::string> all(rec.alert.recipient_ids().begin(), rec.alert.recipient_ids().end());
    all.insert(ids.begin(), ids.end());
    rec.alert.clear_recipient_ids();
    for (const auto& id : all) rec.alert.add_recipient_ids(id);
  }

  void SetTimer(AlertRecord& rec, int64_t deadline_ms) {
    if (rec.alert.deadline_ms() > 0) timers_.erase(Timer{rec.alert.deadline_ms(), rec.alert.alert_id()});
    rec.alert.set_deadline_ms(deadline_ms);
    if (deadline_ms > 0) timers_.insert(Timer{deadline_ms, rec.alert.alert_id()});
    dirty_timers_ = true;
  }

  // Emits ROUTED for `to` and delivers `trigger` (the RAISED/UPDATED/ESCALATED event) to them.
  void Route(processors::TaskState& ts, AlertRecord& rec, const std::vector<const v1::Liaison*>& to,
             const std::string& trigger_id, const v1::AlertEvent& trigger) {
    std::vector<std::string> ids = Ids(to);
    AddRecipients(rec, ids);
    v1::AlertEvent routed = Snapshot(rec, v1::AlertEvent::KIND_ROUTED, ids);
    EmitAlert(ts, rec, routed);
    Deliver(ts, to, trigger_id, trigger);
  }

  // --- handlers ---

  Status OnRisk(const v1::Event& event, processors::TaskState& ts) {
    const v1::RiskAssessment& r = event.risk();
    std::string area = r.area().empty() ? r.subject_id() : r.area();
    const v1::RiskFactor* top = TopFactor(r);
    std::string category = top == nullptr ? "" : top->detector();
    int threshold = Threshold(area, category);
    bool above = threshold > 0 && r.level() >= threshold;

    std::string subject_key = SubjectKey(ts.partition(), r.subject_id());
    ASSIGN_OR_RETURN(std::optional<std::string> open_id, ts.Get(kSubjectStore, subject_key));
    std::optional<AlertRecord> rec;
    if (open_id) {
      ASSIGN_OR_RETURN(rec, Load(ts, *open_id));
    }
    if (open_id && !rec) return Status::Internal("alerts: subject index names missing alert " + *open_id);

    if (!rec) {
      if (!above) return Status::Ok();
      AlertRecord n;
      n.partition = ts.partition();
      n.raised_ms = clock_.now_ms;
      v1::AlertEvent& a = n.alert;
      a.set_alert_id("A" + Sha256Hex(r.subject_id() + "@" + std::to_string(event.header().event_time_ms())).substr(0, 12));
      Describe(a, r, area, category);
      a.set_tier(1);
      a.set_silenced(Silenced(a));
      SetTimer(n, DeadlineFor(r.level()));
      ASSIGN_OR_RETURN(std::vector<const v1::Liaison*> to, InScope(a, 1));
      v1::AlertEvent raised = Snapshot(n, v1::AlertEvent::KIND_RAISED, Ids(to));
      std::string raised_id = EmitAlert(ts, n, raised);
      Route(ts, n, to, raised_id, raised);
      Save(ts, n);
      ts.Put(kSubjectStore, subject_key, a.alert_id());
      return Status::Ok();
    }

    if (!above) {
      rec->state = AlertState::kResolved;
      rec->alert.set_level(r.level());
      rec->alert.set_score(r.score());
      rec->alert.set_summary(Summary(r, area));  // the level it resolved at, not the raised one
      SetTimer(*rec, 0);
      EmitAlert(ts, *rec, Snapshot(*rec, v1::AlertEvent::KIND_RESOLVED));
      Save(ts, *rec);
      ts.Delete(kSubjectStore, subject_key);
      return Status::Ok();
    }

    int before = rec->alert.level();
    Describe(rec->alert, r, area, category);
    rec->alert.set_silenced(Silenced(rec->alert));
    if (rec->state == AlertState::kOpen && !rec->escalation_exhausted) {
      // A worse level may shorten the time left to acknowledge, never lengthen it.
      int64_t d = DeadlineFor(r.level());
      if (d > 0 && (rec->alert.deadline_ms() == 0 || d < rec->alert.deadline_ms())) SetTimer(*rec, d);
    }
    // Who is in scope now (at the current tier) but was never told.
    ASSIGN_OR_RETURN(std::vector<const v1::Liaison*> scope, InScope(rec->alert, rec->alert.tier()));
    std::set<std::string> told(rec->alert.recipient_ids().begin(), rec->alert.recipient_ids().end());
    std::vector<const v1::Liaison*> fresh, again;
    for (const auto* l : scope) (told.count(l->liaison_id()) ? again : fresh).push_back(l);
    // Worse news goes again to those already told; other changes are only recorded.
    if (r.level() <= before) again.clear();
    v1::AlertEvent updated = Snapshot(*rec, v1::AlertEvent::KIND_UPDATED, Ids(again));
    std::string updated_id = EmitAlert(ts, *rec, updated);
    Deliver(ts, again, updated_id, updated);
    if (!fresh.empty()) Route(ts, *rec, fresh, updated_id, updated);
    Save(ts, *rec);
    return Status::Ok();
  }

  static void Describe(v1::AlertEvent& a, const v1::RiskAssessment& r, const std::string& area,
                       const std::string& category) {
    a.set_area(area);
    a.set_level(r.level());
    a.set_subject_id(r.subject_id());
    a.set_summary(Summary(r, area));
    a.set_category(category);
    a.set_score(r.score());
    *a.mutable_factors() = r.factors();
    a.set_is_area(r.is_area());
    if (r.has_location()) {
      *a.mutable_location() = r.location();
    } else {
      a.clear_location();
    }
  }

  Status OnAck(const v1::AlertAck& ack, processors::TaskState& ts) {
    ASSIGN_OR_RETURN(std::optional<AlertRecord> rec, Load(ts, ack.alert_id()));
    if (!rec) return Status::Internal("alerts: acknowledged alert vanished");  // checked in Process
    rec->state = AlertState::kAcknowledged;
    rec->acked_ms = clock_.now_ms;
    rec->alert.set_actor(ack.liaison_id());
    rec->alert.set_note(ack.note());
    SetTimer(*rec, 0);
    EmitAlert(ts, *rec, Snapshot(*rec, v1::AlertEvent::KIND_ACKNOWLEDGED));
    Save(ts, *rec);
    return Status::Ok();
  }

  void OnSilence(const v1::Silence& s) {
    std::erase_if(silences_, [&](const v1::Silence& x) {
      return x.silence_id() == s.silence_id() || x.until_ms() <= clock_.now_ms;
    });
    if (s.until_ms() > clock_.now_ms) silences_.push_back(s);
    dirty_silences_ = true;
  }

  Status FireTimers(processors::TaskState& ts) {
    while (!timers_.empty() && timers_.begin()->deadline_ms <= clock_.now_ms) {
      Timer t = *timers_.begin();
      timers_.erase(timers_.begin());
      dirty_timers_ = true;
      ASSIGN_OR_RETURN(std::optional<AlertRecord> rec, Load(ts, t.alert_id));
      if (!rec || rec->state != AlertState::kOpen || rec->alert.deadline_ms() != t.deadline_ms) continue;
      RETURN_IF_ERROR(Escalate(ts, *rec));
    }
    return Status::Ok();
  }

  Status Escalate(processors::TaskState& ts, AlertRecord& rec) {
    v1::AlertEvent& a = rec.alert;
    ASSIGN_OR_RETURN(std::vector<const v1::Liaison*> all, InScope(a, 0));
    int next = 0;
    for (const auto* l : all) {
      int t = EffectiveTier(*l);
      if (t > a.tier() && (next == 0 || t < next)) next = t;
    }
    std::vector<const v1::Liaison*> to;
    rec.alert.set_deadline_ms(0);  // the fired timer is already gone
    if (next != 0) {
      a.set_tier(next);
      for (const auto* l : all) {
        if (EffectiveTier(*l) == next) to.push_back(l);
      }
      SetTimer(rec, DeadlineFor(a.level()));
    } else {
      // No higher tier: the election commission of the area and its ancestors, once.
      ASSIGN_OR_RETURN(to, Commission(a));
      a.set_tier(a.tier() + 1);
      rec.escalation_exhausted = true;
    }
    a.set_silenced(Silenced(a));
    v1::AlertEvent escalated = Snapshot(rec, v1::AlertEvent::KIND_ESCALATED, Ids(to));
    std::string escalated_id = EmitAlert(ts, rec, escalated);
    Route(ts, rec, to, escalated_id, escalated);
    Save(ts, rec);
    return Status::Ok();
  }

  const v1::AlertRules& rules_;
  store::EventLog& log_;
  // ref.liaisons as read so far (offsets < liaisons_loaded_to_), latest record per id. Rebuilt
  // from the log by a new processor, so it never needs to be in the state store.
  std::map<std::string, v1::Liaison> liaisons_;
  int64_t liaisons_loaded_to_ = 0;
  // The partition's bookkeeping, loaded from alerts.tasks for each event.
  TaskClock clock_;
  std::set<Timer> timers_;
  std::map<std::string, Group> groups_;
  std::vector<v1::Silence> silences_;
  bool dirty_clock_ = false, dirty_timers_ = false, dirty_groups_ = false, dirty_silences_ = false;
};

}  // namespace

processors::Pipeline AlertPipeline(int32_t partitions, const v1::Rules& rules, store::EventLog& log) {
  processors::Pipeline p;
  p.runtime.group = std::string(kAlertsGroup);
  p.runtime.input_topic = std::string(schemas::topic::kRisk);
  p.runtime.stores = {std::string(kAlertStore), std::string(kSubjectStore), std::string(kTaskStore)};
  auto alert_rules = std::make_shared<const v1::AlertRules>(rules.alerts());
  p.factory = [alert_rules, &log](int32_t) -> std::unique_ptr<processors::Processor> {
    return std::make_unique<LifecycleProcessor>(*alert_rules, log);
  };
  p.outputs = {{.name = std::string(schemas::topic::kAlerts), .partitions = partitions},
               {.name = std::string(schemas::topic::kOutbox), .partitions = partitions}};
  return p;
}

std::string_view AlertStateName(AlertState state) {
  switch (state) {
    case AlertState::kOpen: return "open";
    case AlertState::kAcknowledged: return "acknowledged";
    case AlertState::kResolved: return "resolved";
  }
  return "unknown";
}

Result<AlertState> ParseAlertState(std::string_view name) {
  for (AlertState s : {AlertState::kOpen, AlertState::kAcknowledged, AlertState::kResolved}) {
    if (EqualFold(name, AlertStateName(s))) return s;
  }
  return Status::InvalidArgument("unknown alert state '" + std::string(name) +
                                 "'; expected open, acknowledged or resolved");
}

std::string EncodeAlertRecord(const AlertRecord& r) {
  std::string out;
  out.push_back(1);
  out.push_back(static_cast<char>(r.state));
  out.push_back(r.escalation_exhausted ? 1 : 0);
  PutBigEndian32(&out, static_cast<uint32_t>(r.partition));
  PutBigEndian64(&out, static_cast<uint64_t>(r.raised_ms));
  PutBigEndian64(&out, static_cast<uint64_t>(r.updated_ms));
  PutBigEndian64(&out, static_cast<uint64_t>(r.acked_ms));
  PutBigEndian32(&out, static_cast<uint32_t>(r.events));
  out.append(r.alert.SerializeAsString());
  return out;
}

Result<AlertRecord> DecodeAlertRecord(std::string_view bytes) {
  constexpr size_t kFixed = 3 + 4 + 8 + 8 + 8 + 4;
  if (bytes.size() < kFixed || bytes[0] != 1 || bytes[1] < 1 || bytes[1] > 3) {
    return Status::Corruption("alerts.by_id: not an alert record (version 1)");
  }
  AlertRecord r;
  r.state = static_cast<AlertState>(bytes[1]);
  r.escalation_exhausted = (bytes[2] & 1) != 0;
  Reader in(bytes.substr(3));
  r.partition = static_cast<int32_t>(in.U32());
  r.raised_ms = static_cast<int64_t>(in.U64());
  r.updated_ms = static_cast<int64_t>(in.U64());
  r.acked_ms = static_cast<int64_t>(in.U64());
  r.events = static_cast<int32_t>(in.U32());
  std::string_view proto = bytes.substr(kFixed);
  if (!r.alert.ParseFromArray(proto.data(), static_cast<int>(proto.size()))) {
    return Status::Corruption("alerts.by_id: unreadable AlertEvent");
  }
  return r;
}

Result<std::optional<AlertRecord>> ReadAlert(store::StateStore& state, std::string_view alert_id) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, state.Get(kAlertStore, alert_id));
  if (!v) return std::optional<AlertRecord>();
  ASSIGN_OR_RETURN(AlertRecord r, DecodeAlertRecord(*v));
  return std::optional<AlertRecord>(std::move(r));
}

Status ScanAlerts(store::StateStore& state, const std::function<bool(const AlertRecord&)>& fn) {
  Status bad = Status::Ok();
  RETURN_IF_ERROR(state.Scan(kAlertStore, "", [&](std::string_view key, std::string_view value) {
    Result<AlertRecord> r = DecodeAlertRecord(value);
    if (!r.ok()) {
      bad = r.status().WithContext("alert '" + std::string(key) + "'");
      return false;
    }
    return fn(*r);
  }));
  return bad;
}

bool AreaPrefixCovers(std::string_view prefix, std::string_view area) {
  if (prefix.empty()) return true;
  return LevelsAbove(prefix, area) >= 0;
}

bool CategoryMatches(std::string_view prefix, std::string_view category) {
  if (prefix.empty()) return true;
  if (!category.starts_with(prefix)) return false;
  return category.size() == prefix.size() || category[prefix.size()] == '.' || prefix.back() == '.';
}

std::string_view LevelName(int level) {
  switch (level) {
    case v1::RISK_LEVEL_LOW: return "LOW";
    case v1::RISK_LEVEL_ELEVATED: return "ELEVATED";
    case v1::RISK_LEVEL_HIGH: return "HIGH";
    case v1::RISK_LEVEL_CRITICAL: return "CRITICAL";
    default: return "UNSPECIFIED";
  }
}

Result<int> ParseLevel(std::string_view name) {
  for (int l = v1::RISK_LEVEL_LOW; l <= v1::RISK_LEVEL_CRITICAL; ++l) {
    if (EqualFold(name, LevelName(l))) return l;
  }
  return Status::InvalidArgument("unknown level '" + std::string(name) + "'; expected low, elevated, high or critical");
}

std::string_view KindName(v1::AlertEvent::Kind kind) {
  switch (kind) {
    case v1::AlertEvent::KIND_RAISED: return "raised";
    case v1::AlertEvent::KIND_UPDATED: return "updated";
    case v1::AlertEvent::KIND_ROUTED: return "routed";
    case v1::AlertEvent::KIND_ACKNOWLEDGED: return "acknowledged";
    case v1::AlertEvent::KIND_ESCALATED: return "escalated";
    case v1::AlertEvent::KIND_RESOLVED: return "resolved";
    case v1::AlertEvent::KIND_SILENCED: return "silenced";
    default: return "unspecified";
  }
}

}  // namespace ewarn::alerts
