#include "guests.hpp"

#include "vmlab/guest/checks.hpp"
#include "vmlab/guest/cloud_config.hpp"
#include "vmlab/guest/template.hpp"
#include "vmlab/seats/access.hpp"
#include "vmlab/util/error.hpp"
#include "vmlab/util/password.hpp"

namespace vmlab::detail {

namespace {

const PlannedNetwork* find_network(const Plan& plan, const PlannedSeat& seat, const std::string& libvirt_name) {
    for (const auto& n : seat.networks)
        if (n.libvirt_name == libvirt_name) return &n;
    for (const auto& n : plan.shared_networks)
        if (n.libvirt_name == libvirt_name) return &n;
    return nullptr;
}

std::map<std::string, Ipv4> ips_by_network(const Plan& plan, const PlannedSeat& seat, const PlannedVm& vm) {
    std::map<std::string, Ipv4> ips;
    for (const auto& nic : vm.nics)
        if (const PlannedNetwork* net = find_network(plan, seat, nic.network); net && nic.ip) ips[net->spec_name] = *nic.ip;
    return ips;
}

std::string first_error(const std::vector<Diagnostic>& diagnostics) {
    for (const auto& d : diagnostics)
        if (d.severity == Severity::error) return format(d);
    return {};
}

}  // namespace

NoCloudSeed vm_seed(const Plan& plan, const PlannedSeat& seat, const PlannedVm& vm, const SeatRecord& attendee,
                    const std::string& secret) {
    const std::string context = plan.lab + "|" + std::to_string(seat.number);
    const std::string password = plan.login.password ? *plan.login.password : attendee_password(plan.lab, seat.number, secret);

    TemplateVars vars;
    vars.lab = plan.lab;
    vars.seat = seat.number;
    vars.vm = vm.spec_name;
    vars.hostname = vm.hostname;
    vars.attendee.name = attendee.attendee_name;
    vars.attendee.email = attendee.attendee_email;
    vars.login.user = plan.login.user;
    vars.login.password = password;
    vars.ips = ips_by_network(plan, seat, vm);
    for (const auto& other : seat.vms) vars.vms[other.spec_name] = {other.hostname, ips_by_network(plan, seat, other)};

    GuestIdentity identity;
    identity.hostname = vm.hostname;
    identity.ready_token = vm.domain;
    if (vm.login)
        identity.login = LoginAccount{.user = plan.login.user,
                                      .password_hash = password_hash(password, secret, context),
                                      .ssh_keys = plan.login.ssh_keys,
                                      .sudo = plan.login.sudo};

    std::optional<std::string> presenter;
    if (!vm.user_data.empty()) {
        const SourcePos origin{vm.user_data_file, 1, 1};
        Expansion expanded = expand_lab_template(vm.user_data, vars, origin);
        std::string problem = first_error(expanded.diagnostics);
        if (problem.empty()) problem = first_error(check_cloud_config(expanded.text, origin));
        if (!problem.empty())
            throw Error(vm.domain + ": its user_data does not make a cloud-config for seat " + std::to_string(seat.number) +
                            ": " + problem,
                        "quote the values that come from the roster in the YAML (e.g. \"{{attendee.name}}\")",
                        ExitCode::invalid);
        presenter = std::move(expanded.text);
    }

    std::vector<GuestNic> nics;
    for (const auto& nic : vm.nics) {
        const PlannedNetwork* net = find_network(plan, seat, nic.network);
        GuestNic g;
        g.mac = nic.mac;
        g.dhcp = net && net->dhcp_first;
        g.address = nic.ip;
        if (net) {
            g.prefix = net->subnet.prefix;
            if (net->mode == NetworkMode::nat) g.gateway = net->gateway;
            if (net->gateway) g.dns = {*net->gateway};
        }
        nics.push_back(std::move(g));
    }
    return make_seed({.domain = vm.domain,
                      .hostname = vm.hostname,
                      .user_data = merge_user_data(vmlab_cloud_config(identity), presenter),
                      .nics = std::move(nics)});
}

}  // namespace vmlab::detail
