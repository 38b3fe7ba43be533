//! The report as the terminal shows it: the targets' ratios first, then
//! where the time goes, the raw hops, and what each process used.

use std::fmt::Write;

use super::{BenchReport, Flood};

/// The whole report as text tables.
pub fn table(r: &BenchReport) -> String {
    let mut out = String::new();
    let load = |l: [f64; 3]| format!("{:.1} {:.1} {:.1}", l[0], l[1], l[2]);
    let _ = writeln!(
        out,
        "fare bench: {} orders {} on {} (load {} at start, {} at end; took {:.0} s)\n",
        r.orders,
        r.mode.describe(),
        r.emulator,
        load(r.load_before),
        load(r.load_after),
        r.took_ms / 1000.0
    );
    let ratio = |x: Option<f64>| x.map(|x| format!("{x:.2}x")).unwrap_or_else(|| "-".into());
    let ms = |x: Option<f64>| x.map(|x| format!("{x:.0} ms")).unwrap_or_else(|| "-".into());
    let _ = writeln!(out, "{:<44} {:>12} {:>16} {:>8}  TARGET", "WHAT", "PLATFORM", "EMULATOR ALONE", "RATIO");
    let mut row = |what: &str, platform: String, alone: String, ratio: String, target: &str| {
        let _ = writeln!(out, "{what:<44} {platform:>12} {alone:>16} {ratio:>8}  {target}");
    };
    row(
        "P1 ready: fare up / its emulator's start",
        ms(Some(r.up.up_ms)),
        ms(r.up.emulator_start_ms),
        ratio(r.ratios.up_vs_emulator),
        "<= 1.5x",
    );
    row(
        "P2 chain p50 / sum of raw hop p50s",
        ms(Some(r.platform.chain.p50)),
        ms(Some(r.alone.raw_sum_p50_ms)),
        ratio(Some(r.ratios.chain_vs_raw_hops)),
        "<= 1.5x",
    );
    row(
        "P3 orders/s, platform / emulator alone",
        format!("{:.1}", r.platform.orders_per_second),
        format!("{:.1}", r.alone.orders_per_second),
        format!("{:.0}%", r.ratios.throughput_vs_alone * 100.0),
        ">= 80%",
    );
    row(
        "chain p50, platform / emulator alone",
        ms(Some(r.platform.chain.p50)),
        ms(Some(r.alone.chain.p50)),
        ratio(Some(r.ratios.chain_vs_alone)),
        "",
    );
    row("chain p95", ms(Some(r.platform.chain.p95)), ms(Some(r.alone.chain.p95)), String::new(), "");
    row("chain p99", ms(Some(r.platform.chain.p99)), ms(Some(r.alone.chain.p99)), String::new(), "");
    row(
        "idle: fare's own emulator calls/s",
        format!("{:.1}", r.idle.fare_calls_per_second),
        "-".into(),
        String::new(),
        "<= 20/s",
    );
    row(
        "idle: every request the emulator logged/s",
        r.idle.emulator_requests_per_second.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into()),
        "-".into(),
        String::new(),
        "",
    );
    for step in &r.sign_up {
        row(&format!("user: {}", step.step), ms(Some(step.ms)), "-".into(), String::new(), "");
    }
    let calls: Vec<String> = r.idle.fare_calls.iter().map(|(a, n)| format!("{a} {n}")).collect();
    let _ = writeln!(out, "\nfare's calls in {:.0} s of idle: {}", r.idle.seconds, calls.join(", "));

    let b = &r.platform.breakdown;
    let _ = writeln!(
        out,
        "\nwhere a chain's time goes (p50 ms over the orders; order request → first event staged: {:.0} ms)",
        b.request_ms
    );
    let _ = writeln!(
        out,
        "{:<44} {:>10} {:>8} {:>8} {:>8} {:>12}",
        "HOP", "RELAY WAIT", "PUBLISH", "QUEUE", "HANDLE", "TO FOLLOW-UP"
    );
    for h in &b.hops {
        let hop = format!("{} ({} → {})", h.event, h.producer, h.listener);
        let next = h.to_follow_up_ms.map(|x| format!("{x:.0}")).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{hop:<44} {:>10.0} {:>8.0} {:>8.0} {:>8.0} {next:>12}",
            h.relay_wait_ms, h.publish_ms, h.queue_ms, h.handle_ms
        );
    }
    let _ = writeln!(out, "\n{:<44} {:>8} {:>8}", "RAW PUBLISH → RECEIVE (emulator alone)", "P50", "P95");
    for h in &r.alone.raw_hops {
        let hop = format!("{} → {}", h.event, h.listener);
        let _ = writeln!(out, "{hop:<44} {:>8.1} {:>8.1}", h.publish_to_receive.p50, h.publish_to_receive.p95);
    }
    let _ = writeln!(
        out,
        "\n{:<24} {:>8} {:>8} {:>8}   (CPU while the orders ran)",
        "PROCESS", "CPU S", "RSS MB", "PEAK MB"
    );
    for u in r.platform.usage.iter().chain(&r.alone.usage) {
        let _ = writeln!(out, "{:<24} {:>8.1} {:>8.0} {:>8.0}", u.name, u.cpu_seconds, u.rss_mb, u.peak_rss_mb);
    }
    if let Some(flood) = &r.flood {
        flood_table(&mut out, flood);
    }
    out
}

/// The orders without and with the flood, and what its requests were answered.
fn flood_table(out: &mut String, f: &Flood) {
    let a = &f.answers;
    let _ = writeln!(
        out,
        "\nflood: {} requests in flight for {:.0} s: {} answered as expected, {} answered 429, {} other, {} no answer ({:.0}/s)",
        f.logins,
        f.seconds,
        a.ok,
        a.too_many,
        a.other,
        a.no_answer,
        a.total() as f64 / f.seconds.max(0.001)
    );
    let _ = writeln!(out, "{:<44} {:>12} {:>12} {:>8}", "ORDERS", "WITHOUT", "WITH FLOOD", "RATIO");
    let ratios = f.ratios();
    let (o, w) = (&f.without, &f.with);
    let rows = [
        ("order request p50", o.post_orders.p50, w.post_orders.p50, ratios[0]),
        ("order request p95", o.post_orders.p95, w.post_orders.p95, ratios[1]),
        ("chain p50", o.chain.p50, w.chain.p50, ratios[2]),
        ("chain p95", o.chain.p95, w.chain.p95, ratios[3]),
    ];
    for (what, without, with, ratio) in rows {
        let _ = writeln!(out, "{what:<44} {:>9.0} ms {:>9.0} ms {ratio:>7.2}x", without, with);
    }
    let ratio = w.orders_per_second / o.orders_per_second;
    let _ =
        writeln!(out, "{:<44} {:>12.2} {:>12.2} {ratio:>7.2}x", "orders/s", o.orders_per_second, w.orders_per_second);
}
