#pragma once
// Port forwards and VM egress policies set at runtime through the admin API
// (README "Runtime forwards and egress policies"), beside the config file's
// [[nat.forwards]] and [[vms]] egress keys. Sans-I/O: this table decides what is
// allowed (the same rules config validation applies to the file's entries), holds the
// runtime entries, and lays them over a snapshot's NAT policy (apply()). The gateway
// persists each entry in the lease store (runtime_policy_service) and publishes a new
// snapshot after every change.
//
// Rules that relate runtime entries to the config:
//   - A runtime forward is one public port (protocol, public address, port) -> a VM
//     address and port; it may not overlap a config forward or another runtime one.
//     Config forwards cannot be deleted through the API (edit the file and reload).
//   - A runtime egress policy names a VM: a [[vms]] name (it overrides that VM's
//     egress from the config; deleting it reverts to the config's) or the vps_id of
//     an admin-API allocation (it replaces the masquerade default of runtime VMs and
//     lives as long as the allocation). VMs admitted by a DHCP lease alone have no
//     stable name and take no policy.
//   - A port block (egress port_block, block index k of nat.port_blocks) belongs to
//     one VM: a runtime policy may not take a block that a [[vms]] entry's effective
//     policy or another runtime policy holds. Each worker holds every block's ports
//     from the start (dataplane/nat44_state), and a mapping's port goes back to its
//     own block when it ends, so a VM may move to, from or between blocks at runtime.
//
// Records in the lease store: namespace "forward", key = the forward's id
// ("tcp/203.0.113.1/8081"), value = its JSON; namespace "egress", key = the VM's
// name, value = the policy's JSON. Both are the API's request bodies, so one parser
// reads requests and replayed records.
// Owner: the control thread.
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "dataplane/nat44_policy.hpp"

namespace eg::ctl {

inline constexpr std::string_view k_forward_namespace = "forward";
inline constexpr std::string_view k_egress_namespace = "egress";

/// How a check failed; the admin API maps it to a status (400, 404, 409, 409).
enum class policy_errc { ok = 0, invalid, not_found, conflict, not_configured };

struct policy_result {
    policy_errc error = policy_errc::ok;
    std::string message;
    explicit operator bool() const { return error == policy_errc::ok; }
};

/// A VM's egress as the API sets it: the [[vms]] egress keys.
struct egress_setting {
    cfg::egress_policy egress = cfg::egress_policy::masquerade;
    std::optional<cfg::ip_address> public_address;  ///< dedicated
    uint32_t port_block = 0;                        ///< port_block: the block index k
    uint16_t proxy_port = 0;                        ///< proxy
    bool proxy_force = false;                       ///< proxy
    friend bool operator==(const egress_setting&, const egress_setting&) = default;
};

/// What the checks need to know beyond the config: the admin API's allocations.
struct allocation_lookup {
    /// The IPv4 (host order) of the allocation with this vps_id, if there is one.
    std::function<std::optional<uint32_t>(std::string_view vps_id)> address_of;
    /// True if some allocation holds this IPv4 (host order).
    std::function<bool(uint32_t ipv4)> holds;
    /// Who holds `port` on the upstream proxy ([proxy_ports]: "org:ID", "vm:NAME"),
    /// empty when nobody does or there is no [proxy_ports].
    std::function<std::string(uint16_t port)> proxy_port_holder;
};

/// "tcp/203.0.113.1/8081": a forward's id in the API's paths and the store.
std::string forward_id(const cfg::nat_forward_config& f);
/// A runtime forward as the API takes it and the store keeps it:
/// {protocol, public_address, port, to, to_port} (one public port).
nlohmann::json forward_json(const cfg::nat_forward_config& f);
/// The JSON of an egress setting ({egress[, public_address][, proxy_port, proxy_force]}).
nlohmann::json egress_setting_json(const egress_setting& e);
/// Parses a forward from an API body or a stored record: only the fields' syntax
/// (invalid on unknown or malformed fields). Checked against the config by check_forward.
policy_result parse_forward(const nlohmann::json& body, cfg::nat_forward_config& out);
/// Parses {egress[, public_address][, port_block][, proxy_port][, proxy_force]} (the
/// "vm" field is the caller's): only the fields' syntax; check_egress judges the rest.
policy_result parse_egress(const nlohmann::json& body, egress_setting& out);

class runtime_policies {
public:
    /// `config` outlives this table (the gateway's; a reload replaces what it points at).
    explicit runtime_policies(const cfg::config* config) : config_(config) {}
    void set_config(const cfg::config* config) { config_ = config; }

    // --- forwards -----------------------------------------------------------------
    /// Whether `f` may be added now: NAT is on, public_address is a NAT address, the
    /// port is outside the dynamic range, the port-block area and the WireGuard listen
    /// ports, it overlaps no config or runtime forward (an identical runtime one is
    /// fine: adding it again changes nothing), and `to` is a VM on a vm port.
    policy_result check_forward(const cfg::nat_forward_config& f, const allocation_lookup& a) const;
    /// Adds (or keeps) a checked forward; false if an identical one was there.
    bool put_forward(const cfg::nat_forward_config& f);
    /// Removes the runtime forward with this id; false when there is none.
    bool erase_forward(std::string_view id);
    const cfg::nat_forward_config* find_forward(std::string_view id) const;
    /// The config's forward whose public ports include id's, if any.
    const cfg::nat_forward_config* find_config_forward(std::string_view id) const;
    const std::map<std::string, cfg::nat_forward_config, std::less<>>& forwards() const { return forwards_; }

    // --- egress ---------------------------------------------------------------------
    /// Whether `vm` (a [[vms]] name or an allocation's vps_id) may get `e` now: NAT is
    /// on, the VM is known (not_found), and the setting is valid (dedicated: an uplink
    /// address nobody else uses; port_block: a whole block of nat.port_blocks that no
    /// other VM holds; proxy: a [nat.proxy] with service and upstream, a port no
    /// organization holds).
    policy_result check_egress(std::string_view vm, const egress_setting& e, const allocation_lookup& a) const;
    void put_egress(std::string_view vm, const egress_setting& e);
    bool erase_egress(std::string_view vm);
    const egress_setting* find_egress(std::string_view vm) const;
    const std::map<std::string, egress_setting, std::less<>>& egress() const { return egress_; }
    /// The upstream proxy ports the runtime `proxy` policies use: port -> a VM using it
    /// (for [proxy_ports], which must not hand them to an organization).
    std::map<uint16_t, std::string> proxy_ports_in_use() const;
    /// The [[vms]] entry named `vm`, if any.
    const cfg::vm_config* config_vm(std::string_view vm) const;

    /// Every runtime entry checked again (after a reload, or at start against the
    /// config of this run): the problems, one line each; empty when all still hold.
    std::vector<std::string> recheck(const allocation_lookup& a) const;

    /// Lays the runtime entries over a snapshot's NAT policy built from the config:
    /// egress overrides by VM name (a [[vms]] name only for the first
    /// `config_vms` entries, an allocation's vps_id only after them), then the runtime
    /// forwards; re-indexes the policy.
    void apply(dp::nat44_policy& nat, size_t config_vms) const;

private:
    /// A VM other than `vm` ([[vms]] by its effective policy, or a runtime entry)
    /// whose egress `holds` something only one VM may have (a dedicated address, a
    /// port block), if any.
    std::string other_holder(std::string_view vm, const std::function<bool(const egress_setting&)>& holds) const;
    /// The effective egress of a [[vms]] entry (its override, else the config's).
    egress_setting effective(const cfg::vm_config& v) const;

    const cfg::config* config_;
    std::map<std::string, cfg::nat_forward_config, std::less<>> forwards_;  ///< by id
    std::map<std::string, egress_setting, std::less<>> egress_;             ///< by VM name
};

}  // namespace eg::ctl
