// Kit detectors (processors/README.md "kits"): silent kits while polls are open, a ward whose
// kits are down, low battery, tamper, GPS away from the station, fingerprint failures.
//
// State: Station.kits (Kit, except recent_at_ms / recent_accredited, which are turnout.cc's),
// District.ward_latched; beside it, in memory only, each watched kit's silence deadline and
// per ward the kits seen and silent, rebuilt from the state when the task starts.
#include <set>
#include <tuple>
#include <unordered_map>

#include "station/partition.h"

namespace ewarn::processors::station {
namespace {

// Latch bits in Kit.latched and District.ward_latched: a finding is reported once and not
// again until its condition clears.
enum Latch : uint32_t {
  kKitBattery = 1u << 0,
  kKitTamper = 1u << 1,
  kKitGps = 1u << 2,
  kKitAuth = 1u << 3,
  kKitSilent = 1u << 4,
  kKitParked = 1u << 5,  // silent outside polling hours: not watched until it reports again
  kWardAreaDown = 1u << 0,
};

class Kits final : public Module {
 public:
  Kits(Partition& p, Findings& findings) : p_(p), findings_(findings), rules_(p.rules().kit()) {}

  Status Validate(const v1::Event& e, const StationRef* station) const override {
    (void)station;
    if (e.kit().kit_id().empty()) return Status::InvalidArgument("missing_field: kit telemetry without kit_id");
    return Status::Ok();
  }

  Status OnEvent(const v1::Event& e, const StationRef* ref, StationMem* station, int64_t t, TaskState& ts) override {
    const v1::KitTelemetry& in = e.kit();
    StationMem& s = *station;
    st::Kit* kit = nullptr;
    for (auto& k : *s.state.mutable_kits()) {
      if (k.kit_id() == in.kit_id()) kit = &k;
    }
    if (kit == nullptr) {
      kit = s.state.add_kits();
      kit->set_kit_id(in.kit_id());
      kit->set_first_seen_ms(t);
      ++ward_kits_[ref->ward_path].first;
    } else {
      Unwatch(s, *kit);
    }
    const std::string& id = e.header().event_id();
    kit->set_last_seen_ms(std::max(kit->last_seen_ms(), t));
    kit->set_last_event_id(id);
    kit->set_battery_pct(in.battery_pct());
    kit->set_accredited_total(std::max(kit->accredited_total(), in.accredited_total()));
    kit->set_auth_failures(std::max(kit->auth_failures(), in.auth_failures()));
    kit->set_tamper(in.tamper());
    if (kit->latched() & kKitSilent) {  // back
      kit->set_latched(kit->latched() & ~kKitSilent);
      --ward_kits_[ref->ward_path].second;
      CheckWardKits(ref->ward_path, ref->district_path, t, ts);
    }
    kit->set_latched(kit->latched() & ~kKitParked);
    Watch(s, *kit);

    // The explanation is built only for a finding: heartbeats are the bulk of the traffic.
    auto latch = [&](uint32_t bit, bool condition, bool cleared, const std::string& detector, const auto& explain) {
      if (condition && !(kit->latched() & bit)) {
        kit->set_latched(kit->latched() | bit);
        findings_.AtStation(s, {.detector = detector, .explanation = explain(), .event_ids = {id}}, t, ts);
      } else if (cleared) {
        kit->set_latched(kit->latched() & ~bit);
      }
    };
    latch(kKitBattery, in.battery_pct() < rules_.low_battery_pct(), in.battery_pct() >= rules_.low_battery_pct() + 5,
          "kit.battery", [&] { return "kit " + in.kit_id() + Fmt(" battery at %.0f%%", in.battery_pct()); });
    latch(kKitTamper, in.tamper(), !in.tamper(), "kit.tamper", [&] { return "kit " + in.kit_id() + " reports tampering"; });
    double distance = -1;
    if (in.has_location() && ref->has_location) {
      distance = DistanceMeters(in.location().lat(), in.location().lon(), ref->lat, ref->lon);
    }
    kit->set_distance_m(distance);
    latch(kKitGps, distance > rules_.gps_max_distance_m(), distance >= 0 && distance <= rules_.gps_max_distance_m(),
          "kit.gps", [&] { return "kit " + in.kit_id() + Fmt(" is %.0f m from its station", distance); });
    double attempts = static_cast<double>(kit->auth_failures() + kit->accredited_total());
    double rate = attempts > 0 ? static_cast<double>(kit->auth_failures()) / attempts : 0;
    latch(kKitAuth, attempts >= rules_.auth_failure_min_attempts() && rate > rules_.auth_failure_rate(),
          rate <= rules_.auth_failure_rate() * 0.8, "kit.auth_failures",
          [&] { return "kit " + in.kit_id() + Fmt(" fails %.0f%% of %.0f fingerprint checks", 100 * rate, attempts); });
    return Status::Ok();
  }

  // Kits past their deadline: silent if polls are open (a kit not heard since before an hour
  // ahead of opening is not in service today: parked until it reports).
  void OnMinute(int64_t now, TaskState& ts) override {
    std::vector<std::tuple<int64_t, std::string, std::string>> rearm;
    while (!silent_due_.empty() && std::get<0>(*silent_due_.begin()) < now) {
      auto [deadline, station_id, kit_id] = *silent_due_.begin();
      silent_due_.erase(silent_due_.begin());
      StationMem* found = p_.FindStation(station_id);
      if (found == nullptr) continue;
      StationMem& s = *found;
      st::Kit* kit = nullptr;
      for (auto& k : *s.state.mutable_kits()) {
        if (k.kit_id() == kit_id) kit = &k;
      }
      if (kit == nullptr) continue;
      p_.Touch(s);
      const PollingHours hours = p_.Hours(*s.ref);
      int64_t opened = hours.OpenedAt(now);
      if (!hours.Open(now) || kit->last_seen_ms() < opened - kHour) {
        if (now < opened && kit->last_seen_ms() >= opened - kHour) {
          // Heard in the hour before opening: keep watching (the same key, so its next heartbeat
          // still finds and replaces it); it is judged once polls are open.
          rearm.emplace_back(deadline, station_id, kit_id);
        } else {
          kit->set_latched(kit->latched() | kKitParked);
        }
        continue;
      }
      kit->set_latched(kit->latched() | kKitSilent);
      auto& counts = ward_kits_[s.ref->ward_path];
      ++counts.second;
      findings_.AtStation(s,
                          {.detector = "kit.silent",
                           .explanation = "kit " + kit_id + " silent for " +
                                          std::to_string((now - kit->last_seen_ms()) / kMinute) + " min",
                           .event_ids = {kit->last_event_id()},
                           .assess_now = true},
                          now, ts);
      CheckWardKits(s.ref->ward_path, s.ref->district_path, now, ts);
    }
    for (auto& r : rearm) silent_due_.insert(r);
  }

  // After a restart: the same deadlines and ward counts the uninterrupted run would hold.
  void OnLoaded(StationMem& s) override {
    for (const auto& kit : s.state.kits()) {
      auto& counts = ward_kits_[s.ref->ward_path];
      ++counts.first;
      if (kit.latched() & kKitSilent) ++counts.second;
      Watch(s, kit);
    }
  }

 private:
  // A deadline per kit, re-armed by every heartbeat.
  void Watch(const StationMem& s, const st::Kit& kit) {
    if (kit.latched() & (kKitSilent | kKitParked)) return;
    silent_due_.insert({kit.last_seen_ms() + rules_.silent_after_ms(), s.ref->station_id, kit.kit_id()});
  }
  void Unwatch(const StationMem& s, const st::Kit& kit) {
    silent_due_.erase({kit.last_seen_ms() + rules_.silent_after_ms(), s.ref->station_id, kit.kit_id()});
  }

  // A ward is down when area_down_fraction of its kits (3 or more) are silent.
  void CheckWardKits(const std::string& ward, const std::string& district, int64_t now, TaskState& ts) {
    auto [total, down_now] = ward_kits_[ward];
    DistrictMem& d = p_.District(district);
    uint32_t latched = d.state.ward_latched().count(ward) ? d.state.ward_latched().at(ward) : 0;
    bool down = total >= 3 && static_cast<double>(down_now) >= rules_.area_down_fraction() * total;
    if (down && !(latched & kWardAreaDown)) {
      (*d.state.mutable_ward_latched())[ward] = latched | kWardAreaDown;
      d.dirty = true;
      findings_.AtArea(ward, district,
                       {.detector = "kit.area_down",
                        .explanation = std::to_string(down_now) + " of " + std::to_string(total) +
                                       " kits in the ward are silent"},
                       now, ts);
    } else if (down_now == 0 && (latched & kWardAreaDown)) {
      (*d.state.mutable_ward_latched())[ward] = latched & ~kWardAreaDown;
      d.dirty = true;
    }
  }

  Partition& p_;
  Findings& findings_;
  const v1::KitRules& rules_;
  // Kits watched for silence: (deadline, station, kit), deadline = last heartbeat +
  // silent_after_ms; and per ward, kits seen and kits silent now.
  std::set<std::tuple<int64_t, std::string, std::string>> silent_due_;
  std::unordered_map<std::string, std::pair<int, int>> ward_kits_;
};

}  // namespace

std::unique_ptr<Module> MakeKits(Partition& p, Findings& findings) { return std::make_unique<Kits>(p, findings); }

}  // namespace ewarn::processors::station
