//! Writes the SchedulerProfile CRD YAML: `crdgen [OUT...]` (stdout when no path is given).

fn main() -> std::io::Result<()> {
    let yaml = ferrosched_crds::crd_yaml();
    let outs: Vec<String> = std::env::args().skip(1).collect();
    if outs.is_empty() {
        print!("{yaml}");
    }
    for out in outs {
        std::fs::write(&out, &yaml)?;
    }
    Ok(())
}
