// `ponder report RUN_DIR`: a run on one self-contained HTML page
// (docs/REPORT.md) — its config and stage timings; RL per step as inline SVG
// charts (reward, accuracy, response and thinking length, tool-call rate,
// tool error rate, KL, clip fraction, eval accuracy); the curriculum's
// difficulty; pretraining and SFT loss; held-out accuracy before and after
// RL; the best and worst train rollouts of each family with the ids
// `ponder inspect DB show ID` takes. `ponder train` rewrites it at the end.
//
// Contract:
//  - The page loads nothing: no scripts (its Content-Security-Policy forbids
//    them, and any fetch), no external fonts, styles or images.
//  - Everything read from the run — config, database text, family and
//    benchmark names — is HTML-escaped: completions are hostile model output.
//  - A piece the run does not have yet (no RL, an empty database, no
//    summary) is a note on the page, never an error.
#pragma once

#include <filesystem>
#include <string>

#include "app/report_data.h"

namespace ponder {

std::string render_report(const RunRecord& record);

// Reads `run_dir` (report_data.h; ponder::Error when it is not a run folder)
// and writes the page to `out`, by default RUN_DIR/report.html, replacing it
// atomically. Returns the path written.
std::filesystem::path write_report(const std::filesystem::path& run_dir,
                                   const std::filesystem::path& out = {});

}  // namespace ponder
