//! `/record/test-results/trend?name=HbA1c`: one test's results over time
//! as a chart drawn on the server (an inline SVG, so it needs no
//! JavaScript), described in words, and the same numbers as a table.
//!
//! The chart is a few lines and points placed by the pure
//! `domain::gp_record::chart_layout`; a charting crate (plotters) would
//! draw the same lines but add a server-only dependency the page's view
//! code, compiled for the browser too, could not call.

use crate::CurrentUser;
use crate::components::{BackLink, ProblemPanel, long_date};
use crate::error::PortalError;
use crate::pages::record::{RecordText, RecordTitle};
use crate::record_api::{Online, record_trend};
use domain::gp_record::{TrendSeries, chart_layout, describe_trend, number, trend_series};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 280.0;
const MARGIN: f64 = 36.0;

/// Dash patterns tell the lines apart without colour.
const DASHES: [&str; 3] = ["", "8 4", "2 4"];

#[component]
fn TrendChart(series: Vec<TrendSeries>, title: String) -> impl IntoView {
    let layout = chart_layout(&series, WIDTH, HEIGHT, MARGIN);
    let description = series
        .iter()
        .map(|s| describe_trend(s, long_date))
        .collect::<Vec<_>>()
        .join(" ");
    let unit = series
        .first()
        .and_then(|s| s.unit.clone())
        .unwrap_or_default();
    let lines = layout
        .lines
        .iter()
        .enumerate()
        .map(|(i, points)| {
            let path = points
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect::<Vec<_>>()
                .join(" ");
            let dots = points
                .iter()
                .map(|(x, y)| view! { <circle cx=format!("{x:.1}") cy=format!("{y:.1}") r="4" class="portal-trend__point"/> })
                .collect_view();
            view! {
                <polyline points=path class="portal-trend__line" stroke-dasharray=DASHES[i % DASHES.len()]/>
                {dots}
            }
        })
        .collect_view();
    let low = format!("{} {unit}", number(layout.low));
    let high = format!("{} {unit}", number(layout.high));
    view! {
        <figure class="portal-trend">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-labelledby="trend-title trend-desc" class="portal-trend__svg">
                <title id="trend-title">{format!("Chart of {title} over time")}</title>
                <desc id="trend-desc">{description.clone()}</desc>
                <line x1=MARGIN y1=MARGIN x2=MARGIN y2=HEIGHT - MARGIN class="portal-trend__axis"/>
                <line x1=MARGIN y1=HEIGHT - MARGIN x2=WIDTH - MARGIN y2=HEIGHT - MARGIN class="portal-trend__axis"/>
                <text x=MARGIN + 4.0 y=MARGIN - 8.0 class="portal-trend__label">{high}</text>
                <text x=MARGIN + 4.0 y=HEIGHT - MARGIN + 20.0 class="portal-trend__label">{low}</text>
                {lines}
            </svg>
            <figcaption><RecordTitle text=description/></figcaption>
        </figure>
    }
}

#[component]
pub fn RecordTrendPage() -> impl IntoView {
    let query = use_query_map();
    let name = move || query.with(|q| q.get("name").unwrap_or_default());
    let user = expect_context::<CurrentUser>().0;
    let data = Resource::new(name, move |name| async move {
        let patient = user
            .await?
            .and_then(|u| u.patient)
            .ok_or(PortalError::Forbidden)?;
        if name.trim().is_empty() {
            return Err(PortalError::NotFound);
        }
        record_trend(patient, name).await
    });
    view! {
        <Title text=move || format!("{} over time", name())/>
        <BackLink href="/record/test-results" text="Back to your test results"/>
        <h1>{move || view! { <RecordTitle text=name()/> }}" over time"</h1>
        <Suspense>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(Online::Shown(entries)) => {
                        let series = trend_series(&entries);
                        if series.iter().all(|s| s.points.is_empty()) {
                            return view! { <p>"There are no results with a number for this test in your record."</p> }.into_any();
                        }
                        let rows = {
                            let mut all: Vec<(chrono::NaiveDate, String, String)> = series
                                .iter()
                                .flat_map(|s| {
                                    let unit = s.unit.clone().map(|u| format!(" {u}")).unwrap_or_default();
                                    s.points.iter().map(move |(d, v)| (*d, s.name.clone(), format!("{}{unit}", number(*v))))
                                })
                                .collect();
                            all.sort_by_key(|row| std::cmp::Reverse(row.0));
                            all
                        };
                        let title = name();
                        view! {
                            <TrendChart series title=title.clone()/>
                            <table class="nhsuk-table">
                                <caption class="nhsuk-table__caption">{format!("Every {title} result, most recent first")}</caption>
                                <thead class="nhsuk-table__head">
                                    <tr class="nhsuk-table__row">
                                        <th class="nhsuk-table__header" scope="col">"Date"</th>
                                        <th class="nhsuk-table__header" scope="col">"Test"</th>
                                        <th class="nhsuk-table__header" scope="col">"Result"</th>
                                    </tr>
                                </thead>
                                <tbody class="nhsuk-table__body">
                                    {rows.into_iter().map(|(d, n, v)| view! {
                                        <tr class="nhsuk-table__row">
                                            <td class="nhsuk-table__cell">{long_date(d)}</td>
                                            <td class="nhsuk-table__cell"><RecordText text=n/></td>
                                            <td class="nhsuk-table__cell">{v}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }
                    Ok(Online::NotOnline(level)) => view! {
                        <p>{format!("Your GP practice has not made your test results available online. What you can see online now: {}.", level.label().to_lowercase())}</p>
                    }.into_any(),
                    Err(error) => view! { <ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
