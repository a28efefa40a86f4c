#include <set>

#include "vmlab/engine/engine.hpp"
#include "vmlab/virt/xml.hpp"

namespace vmlab {

namespace {

// Volumes an interrupted command leaves: an unfinished import or overlay, an unfinished capture.
bool is_stray(const std::string& volume) {
    return volume.ends_with(".partial") || volume.ends_with(".fresh");
}

}  // namespace

Orphans Engine::find_orphans(const std::optional<std::string>& only) {
    std::set<std::string> tagged;  // labs that libvirt holds objects of
    for (const auto& domain : m_conn.all_domains())
        if (const auto metadata = virt::domain_metadata(domain))
            if (const auto owner = parse_vm_metadata(*metadata)) tagged.insert(owner->lab);
    for (const auto& network : m_conn.all_networks())
        if (const auto xml = virt::xml_desc_if_exists(network))
            if (const auto owner = parse_network_metadata(*xml)) tagged.insert(owner->lab);
    for (const auto& pool : m_conn.all_pools()) {
        const std::string name = virt::name(pool);
        if (name.starts_with("vmlab-")) tagged.insert(name.substr(6));
    }

    Orphans orphans;
    for (const auto& lab : tagged) {
        if (only && lab != *only) continue;
        if (m_store.find_lab(lab)) {
            const virt::StoragePool pool = m_conn.find_pool(pool_name(lab));
            if (!pool || !virt::is_active(pool)) continue;
            virt::refresh(pool);
            for (const auto& vol : m_conn.all_volumes(pool))
                if (is_stray(virt::name(vol))) {
                    orphans.stray_volumes.emplace_back(pool_name(lab), virt::name(vol));
                    orphans.objects.push_back("volume " + virt::name(vol) + " (in pool " + pool_name(lab) + ")");
                }
            continue;
        }
        orphans.labs.push_back(lab);
        for (auto& object : find_lab_objects(lab)) orphans.objects.push_back(std::move(object) + " (lab " + lab + ")");
    }
    return orphans;
}

DownReport Engine::remove_orphans(const Orphans& orphans) {
    DownReport report;
    for (const auto& lab : orphans.labs) {
        DownReport one = down(lab, KeepImages::no);
        report.removed.insert(report.removed.end(), one.removed.begin(), one.removed.end());
        report.leftovers.insert(report.leftovers.end(), one.leftovers.begin(), one.leftovers.end());
    }
    for (const auto& [pool_name_, volume] : orphans.stray_volumes)
        if (const virt::StoragePool pool = m_conn.find_pool(pool_name_))
            if (const virt::StorageVol vol = m_conn.find_volume(pool, volume)) {
                virt::delete_volume(vol);
                report.removed.push_back("volume " + volume);
            }
    return report;
}

}  // namespace vmlab
