//! The HTML report: built from a real transfer (its `--plan`) and real scores, its table
//! and charts checked against the numbers, and its SVG charts rendered by `rsvg-convert`
//! (a real SVG renderer) to PNGs of the stated size with visible content.

use salt::auxvec::AuxSource;
use salt::eval::{read_plan, render_report, score, EvalRow, ScoreOptions};
use salt::pipeline::{transfer, Method, TransferConfig};

use crate::util::{asset, tmpdir};

/// `(height, data-value)` of every bar of one SVG chart.
fn bars(svg: &str) -> Vec<(f64, f64)> {
    svg.split("<rect class=\"bar\"")
        .skip(1)
        .map(|r| {
            let attr = |name: &str| -> f64 {
                let at = r.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                r[at..at + r[at..].find('"').unwrap()].parse().unwrap()
            };
            (attr("height"), attr("data-value"))
        })
        .collect()
}

#[test]
fn report_from_a_real_transfer_renders() {
    let dir = tmpdir();
    let out = dir.path().join("smol-ko.gguf");
    let plan_path = dir.path().join("plan.jsonl");
    let mut cfg = TransferConfig::new(
        asset("models/smollm2-135m-instruct-q4_1.gguf"),
        asset("plm/use"),
        AuxSource::Plm,
        out.clone(),
    );
    cfg.init.method = Method::Salt;
    cfg.target.trim_to = Some(asset("text/bible-ko-train.txt"));
    cfg.output.plan = Some(plan_path.clone());
    cfg.neighbours.max_k = Some(64);
    let r = transfer(&cfg, &mut salt::progress::Silent).unwrap();

    // The plan file agrees with the transfer's own counts.
    let plan = read_plan(&plan_path).unwrap();
    assert_eq!(plan.classes.get("shared").copied().unwrap_or(0), r.shared);
    assert_eq!(
        plan.classes.get("regressed").copied().unwrap_or(0),
        r.regressed
    );
    assert_eq!(plan.classes.get("random").copied().unwrap_or(0), r.random);
    assert_eq!(plan.classes.values().sum::<usize>(), r.n_vocab);
    assert_eq!(plan.k_histogram, r.k_histogram);

    let heldout = asset("text/bible-ko-heldout.txt");
    let text = std::fs::read_to_string(&heldout).unwrap();
    let opts = ScoreOptions {
        ctx: 128,
        max_tokens: Some(256),
        threads: None,
        reference: None,
    };
    let rows: Vec<EvalRow> = [
        ("source", asset("models/smollm2-135m-instruct-q4_1.gguf")),
        ("salt", out.clone()),
    ]
    .into_iter()
    .map(|(label, m)| EvalRow {
        label: label.into(),
        file_bytes: std::fs::metadata(&m).unwrap().len(),
        parity: None,
        score: Some(score(&m, &heldout, &text, &opts, &mut salt::progress::Silent).unwrap()),
        continuations: salt::eval::continuations(&m, &salt::eval::prompts(&text, 2), 6, None)
            .unwrap(),
        speed: None,
    })
    .collect();
    let about = salt::eval::ReportAbout {
        command: Some("salt eval --model 'a b.gguf' <x>".into()),
        inputs: vec![(
            "model".into(),
            "smollm2-135m-instruct-q4_1.gguf".into(),
            crate::util::sha256_file(&asset("models/smollm2-135m-instruct-q4_1.gguf")),
        )],
    };
    let html = render_report("salt <test> & report", &rows, Some(&plan), &about);
    assert!(
        html.contains("<code>salt eval --model 'a b.gguf' &lt;x&gt;</code>"),
        "the command is shown, escaped"
    );
    assert!(
        html.contains(&format!("<code>{}</code>", about.inputs[0].2)),
        "the input's sha256 is shown"
    );
    // The about table comes first; the comparison table is the next.
    let html_tables = html.split_once("</table>").unwrap().1;
    assert!(
        html.contains("salt &lt;test&gt; &amp; report"),
        "the title is escaped"
    );
    let tables: Vec<&str> = html_tables.split("</table>").collect();
    assert_eq!(tables[0].matches("<tr>").count(), 1 + rows.len());
    // The loss by class: one row per model and class, the adapted model's classes named.
    let by_class: usize = rows
        .iter()
        .map(|r| r.score.as_ref().unwrap().by_class.len())
        .sum();
    assert_eq!(tables[1].matches("<tr>").count(), 1 + by_class);
    assert!(
        tables[1].contains("<td>salt</td><td>initialised</td>"),
        "{}",
        tables[1]
    );
    // The continuations: each prompt with each model's text.
    for c in rows.iter().flat_map(|r| &r.continuations) {
        assert!(html.contains(&c.prompt) && html.contains(&c.text), "{c:?}");
    }
    assert_eq!(rows[1].continuations.len(), 2);

    let svgs: Vec<&str> = html
        .split("<svg")
        .skip(1)
        .map(|s| &s[..s.find("</svg>").unwrap()])
        .collect();
    assert_eq!(svgs.len(), 4, "bits per byte, fertility, classes, k");
    // Bar heights are proportional to the values they show, and show the real numbers.
    for svg in &svgs {
        let b = bars(svg);
        assert!(!b.is_empty());
        // Heights are written to 1/1000 px; compare in pixels against the tallest bar.
        let top = b
            .iter()
            .copied()
            .fold((0.0, 1.0), |m, x| if x.0 > m.0 { x } else { m });
        let px_per_unit = top.0 / top.1;
        for (h, v) in &b {
            assert!(
                (h - v * px_per_unit).abs() <= 0.01,
                "{h} px for {v} ({px_per_unit} px/unit)"
            );
        }
    }
    let bpb: Vec<f64> = bars(svgs[0]).iter().map(|b| b.1).collect();
    let want: Vec<f64> = rows
        .iter()
        .map(|r| r.score.as_ref().unwrap().bits_per_byte)
        .collect();
    assert_eq!(bpb, want);
    let k_total: f64 = bars(svgs[3]).iter().map(|b| b.1).sum();
    assert_eq!(k_total as usize, r.k_histogram.values().sum::<usize>());
    // The class and k charts show counts, as integers ("30", never "30.000").
    let class_total: f64 = bars(svgs[2]).iter().map(|b| b.1).sum();
    assert_eq!(class_total as usize, r.n_vocab);
    for svg in &svgs[2..] {
        for (_, v) in bars(svg) {
            assert!(
                svg.contains(&format!(">{v:.0}</text>"))
                    && !svg.contains(&format!(">{v:.3}</text>")),
                "count {v} not shown as an integer"
            );
        }
    }

    // Rendering: each chart through a real SVG renderer.
    let have = std::process::Command::new("rsvg-convert")
        .arg("--version")
        .output();
    if have.is_err() {
        println!("skipping the render check: rsvg-convert is not installed (scripts/setup.sh installs librsvg2-bin)");
        return;
    }
    for (i, svg) in svgs.iter().enumerate() {
        let src = dir.path().join(format!("c{i}.svg"));
        let png = dir.path().join(format!("c{i}.png"));
        std::fs::write(&src, format!("<svg{svg}</svg>")).unwrap();
        let st = std::process::Command::new("rsvg-convert")
            .arg(&src)
            .arg("-o")
            .arg(&png)
            .status()
            .unwrap();
        assert!(st.success(), "chart {i} does not render");
        let b = std::fs::read(&png).unwrap();
        assert_eq!(&b[1..4], b"PNG");
        let w = u32::from_be_bytes(b[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(b[20..24].try_into().unwrap());
        assert_eq!((w, h), (560, 220));
        // An empty 560x220 canvas compresses to a few hundred bytes; text and bars do not.
        assert!(b.len() > 2_000, "chart {i} looks blank ({} bytes)", b.len());
    }
}
