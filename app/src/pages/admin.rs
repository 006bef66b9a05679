//! System administrator: the practices this deployment serves. Counts only,
//! no patient data.

use crate::api::list_practices;
use crate::components::ProblemPanel;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminPage() -> impl IntoView {
    let practices = Resource::new(|| (), |_| list_practices());
    view! {
        <Title text="Practices"/>
        <h1>"Practices"</h1>
        <p><a href="/admin/emails">"See emails waiting to be sent, and any that failed"</a></p>
        <Suspense>
            {move || Suspend::new(async move {
                match practices.await {
                    Ok(rows) => view! {
                        <table class="nhsuk-table">
                            <caption class="nhsuk-table__caption">"Practices using this service"</caption>
                            <thead class="nhsuk-table__head">
                                <tr class="nhsuk-table__row">
                                    <th class="nhsuk-table__header" scope="col">"Practice"</th>
                                    <th class="nhsuk-table__header" scope="col">"ODS code"</th>
                                    <th class="nhsuk-table__header nhsuk-table__header--numeric" scope="col">"Patients"</th>
                                    <th class="nhsuk-table__header nhsuk-table__header--numeric" scope="col">"Staff"</th>
                                </tr>
                            </thead>
                            <tbody class="nhsuk-table__body">
                                {rows.into_iter().map(|p| view! {
                                    <tr class="nhsuk-table__row">
                                        <td class="nhsuk-table__cell">{p.name}</td>
                                        <td class="nhsuk-table__cell">{p.ods_code}</td>
                                        <td class="nhsuk-table__cell nhsuk-table__cell--numeric">{p.patients}</td>
                                        <td class="nhsuk-table__cell nhsuk-table__cell--numeric">{p.staff}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
