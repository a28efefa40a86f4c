#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <mutex>

#include "vmlab/engine/engine.hpp"
#include "vmlab/virt/xml.hpp"
#include "journal.hpp"
#include "vmlab/util/parallel.hpp"

namespace vmlab {

namespace {

bool owned_domain(const virt::Domain& domain, const std::string& lab) {
    const auto metadata = virt::domain_metadata(domain);
    const auto owner = metadata ? parse_vm_metadata(*metadata) : std::nullopt;
    return owner && owner->lab == lab;
}

bool owned_network(const virt::Network& network, const std::string& lab) {
    const auto xml = virt::xml_desc_if_exists(network);
    const auto owner = xml ? parse_network_metadata(*xml) : std::nullopt;
    return owner && owner->lab == lab;
}

bool is_base_image(const std::string& volume) { return volume.rfind("base-", 0) == 0; }

// Runs f on every item with up to `jobs` threads; collects the errors.
template <class T, class F>
std::vector<std::string> for_each_parallel(std::vector<T>& items, unsigned jobs, F f) {
    std::vector<std::string> errors;
    std::mutex mutex;
    detail::parallel_for(items.size(), jobs, [&](std::size_t i) {
        try {
            f(items[i]);
        } catch (const std::exception& e) {
            std::lock_guard lock(mutex);
            errors.push_back(e.what());
        }
    });
    return errors;
}

}  // namespace

std::vector<std::string> Engine::find_lab_objects(const std::string& lab) {
    std::vector<std::string> found;
    for (const auto& domain : m_conn.all_domains())
        if (owned_domain(domain, lab)) found.push_back("domain " + virt::name(domain));
    for (const auto& network : m_conn.all_networks())
        if (owned_network(network, lab)) found.push_back("network " + virt::name(network));
    if (virt::StoragePool pool = m_conn.find_pool(pool_name(lab))) {
        found.push_back("pool " + virt::name(pool));
        if (virt::is_active(pool)) {
            virt::refresh(pool);
            for (const auto& vol : m_conn.all_volumes(pool)) found.push_back("volume " + virt::name(vol));
        }
    }
    return found;
}

DownReport Engine::down(const std::string& lab, KeepImages keep_images, unsigned jobs, Wait wait_lock) {
    const FileLock lab_lock = lock_lab(lab, LockMode::exclusive, wait_lock, "down");
    const auto started = std::chrono::steady_clock::now();
    detail::take_over_interrupted_steps(m_store, lab, "down");
    const detail::JournalStep journal_step(m_store, lab, 0, "down", "remove every object of the lab");
    DownReport report;
    std::mutex report_mutex;
    auto removed = [&](std::string what) {
        std::lock_guard lock(report_mutex);
        report.removed.push_back(std::move(what));
    };

    std::vector<virt::Domain> domains;
    for (auto& domain : m_conn.all_domains())
        if (owned_domain(domain, lab)) domains.push_back(std::move(domain));
    std::vector<std::string> errors = for_each_parallel(domains, jobs, [&](virt::Domain& domain) {
        const std::string domain_name = virt::name(domain);
        virt::destroy(domain);
        virt::undefine(domain);
        m_store.delete_vm(lab, domain_name);
        removed("domain " + domain_name);
    });

    const std::string pool_name_ = pool_name(lab);
    if (virt::StoragePool pool = m_conn.find_pool(pool_name_)) {
        if (!virt::is_active(pool)) virt::start(pool);
        virt::refresh(pool);
        for (const auto& vol : m_conn.all_volumes(pool)) {
            const std::string vol_name = virt::name(vol);
            if (keep_images == KeepImages::yes && is_base_image(vol_name)) continue;
            if (!is_lab_file(lab, vol_name)) {
                report.untouched.push_back(virt::volume_path(vol));
                continue;
            }
            virt::delete_volume(vol);
            m_store.delete_volume(lab, pool_name_, vol_name);
            removed("volume " + vol_name);
        }
        if (keep_images == KeepImages::no) {
            virt::destroy(pool);
            if (report.untouched.empty()) virt::delete_pool(pool);  // else the directory stays, with those files
            virt::undefine(pool);
            removed("pool " + pool_name_);
        }
    }

    for (const auto& network : m_conn.all_networks()) {
        if (!owned_network(network, lab)) continue;
        const std::string network_name = virt::name(network);
        virt::destroy(network);
        virt::undefine(network);
        m_store.delete_network(lab, network_name);
        removed("network " + network_name);
    }

    for (auto& leftover : find_lab_objects(lab)) {
        const bool kept = keep_images == KeepImages::yes &&
                          (leftover == "pool " + pool_name_ || (leftover.rfind("volume base-", 0) == 0));
        if (!kept) report.leftovers.push_back(std::move(leftover));
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    const bool clean = report.leftovers.empty() && errors.empty();
    if (clean) m_store.delete_lab(lab);
    std::string detail = std::to_string(report.removed.size()) + " objects removed";
    for (const auto& e : errors) detail += "; " + e;
    m_store.add_event({0, 0, lab, 0, "", "down", clean ? "ok" : "incomplete", detail, "", ms.count()});
    if (!errors.empty()) report.leftovers.insert(report.leftovers.begin(), errors.begin(), errors.end());
    return report;
}

}  // namespace vmlab
