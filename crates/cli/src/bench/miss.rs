//! What one authorization-cache miss costs: the store read a grant or a call makes for a client
//! the node does not hold (`Store::client_grant`), timed in this process on the seeded store, one
//! read after another. On SQLite the whole cost is this process's CPU; on PostgreSQL part of it is
//! the server's, so the wall time per read is reported beside it.

use std::io::BufRead;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use trustgate_core::ids::ClientId;
use trustgate_store::{SqliteMemory, SqliteStore, Store};

use super::spread::Spread;

/// Reads per measurement: enough that the CPU clock's 10 ms ticks are under 1% of it.
const READS: usize = 20_000;
/// Alternations of the settings compared, so that a slower moment of the machine falls on each.
const ROUNDS: usize = 3;

/// One setting's cost per miss over the rounds.
pub(super) struct MissCost {
    pub(super) store: &'static str,
    pub(super) setting: String,
    pub(super) cpu_us: Vec<f64>,
    pub(super) wall_us: Vec<f64>,
}

/// SQLite's memory settings compared: the defaults, a memory map large enough for a million
/// clients' pages, and a larger private page cache.
const SQLITE_SETTINGS: [(&str, SqliteMemory); 3] = [
    ("SQLite defaults: no mmap, 2 MiB page cache", SqliteMemory::SQLITE_DEFAULTS),
    ("mmap 1 GiB, 2 MiB page cache", SqliteMemory { mmap_bytes: 1 << 30, cache_kib: 2_000 }),
    ("no mmap, 64 MiB page cache", SqliteMemory { mmap_bytes: 0, cache_kib: 65_536 }),
];

/// Every SQLite setting, alternating, on the store in `data_dir`.
pub(super) async fn sqlite(data_dir: &Path, all_creds: &Path, costs: &mut Vec<MissCost>) -> anyhow::Result<()> {
    let ids = sample(all_creds)?;
    for round in 1..=ROUNDS {
        for (setting, memory) in SQLITE_SETTINGS {
            let store = SqliteStore::open_with(data_dir, memory).await?;
            // A first pass fills the page cache or the map as a running node's would be.
            read_all(&store, &ids).await?;
            let (cpu, wall) = read_all(&store, &ids).await?;
            eprintln!("[SQLite] cost per miss, round {round}, {setting}: {cpu:.1} µs CPU, {wall:.1} µs");
            record(costs, "SQLite", setting, cpu, wall);
        }
    }
    Ok(())
}

/// The store as it is, `ROUNDS` times.
pub(super) async fn postgres(store: &dyn Store, all_creds: &Path, costs: &mut Vec<MissCost>) -> anyhow::Result<()> {
    let ids = sample(all_creds)?;
    read_all(store, &ids).await?;
    for round in 1..=ROUNDS {
        let (cpu, wall) = read_all(store, &ids).await?;
        eprintln!("[PostgreSQL] cost per miss, round {round}: {cpu:.1} µs CPU here, {wall:.1} µs");
        record(costs, "PostgreSQL", "one read at a time", cpu, wall);
    }
    Ok(())
}

/// Adds a measurement to its setting's row, over every run of the bench.
fn record(costs: &mut Vec<MissCost>, store: &'static str, setting: &str, cpu: f64, wall: f64) {
    let index = match costs.iter().position(|c| c.store == store && c.setting == setting) {
        Some(index) => index,
        None => {
            costs.push(MissCost { store, setting: setting.to_owned(), cpu_us: vec![], wall_us: vec![] });
            costs.len() - 1
        }
    };
    costs[index].cpu_us.push(cpu);
    costs[index].wall_us.push(wall);
}

/// Per read: this process's CPU and the wall time, in µs.
async fn read_all(store: &dyn Store, ids: &[ClientId]) -> anyhow::Result<(f64, f64)> {
    let (cpu, started) = (process_cpu()?, Instant::now());
    for &id in ids {
        store.client_grant(id).await?.context("a seeded client is in the store")?;
    }
    let (cpu, wall) = (process_cpu()? - cpu, started.elapsed());
    let per = |d: Duration| d.as_secs_f64() * 1e6 / ids.len() as f64;
    Ok((per(cpu), per(wall)))
}

/// `READS` client ids spread evenly over the seeded ones (`customer id secret` lines).
fn sample(all_creds: &Path) -> anyhow::Result<Vec<ClientId>> {
    let lines: Vec<String> =
        std::io::BufReader::new(std::fs::File::open(all_creds)?).lines().collect::<Result<_, _>>()?;
    let every = (lines.len() / READS).max(1);
    lines
        .iter()
        .step_by(every)
        .take(READS)
        .map(|line| {
            let id = line.split_whitespace().nth(1).unwrap_or_default();
            ClientId::parse(id).with_context(|| format!("a client id in {}", all_creds.display()))
        })
        .collect()
}

/// User and system CPU time of this process so far, from `/proc/self/stat` (Linux).
fn process_cpu() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // The fields after the command name (which may hold spaces) are space-separated; utime and
    // stime are the 14th and 15th of the line, in clock ticks of 1/100 s on Linux.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).context("the format of /proc/self/stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).context("a CPU time field");
    Ok(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

/// The table's rows: median (lowest–highest) per setting.
pub(super) fn render(costs: &[MissCost]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if costs.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\nCost of one authorization-cache miss (`client_grant`, {READS} reads of seeded clients one after another in the \
         bench process, median of {ROUNDS} alternations in each run of the bench, lowest–highest in brackets):\n"
    );
    let _ = writeln!(out, "| store | setting | CPU per miss (this process) | wall time per miss |");
    let _ = writeln!(out, "|---|---|---:|---:|");
    for cost in costs {
        let show = |values: &[f64]| Spread::of(values.iter().copied()).map_or("—".to_owned(), |s| s.show(1, " µs"));
        let _ =
            writeln!(out, "| {} | {} | {} | {} |", cost.store, cost.setting, show(&cost.cpu_us), show(&cost.wall_us));
    }
    out
}
