//! [`Queue::list_jobs`](stack_core::queue::Queue::list_jobs) for [`SqlQueue`]: one indexed
//! range read, in the listing's order.

use sea_orm::Value;
use stack_core::Result;
use stack_core::queue::{JobList, JobListing, ListedJob, ListedState};

use super::rows::{get, job, time};
use super::{SqlQueue, int};

impl SqlQueue {
    /// One page of the jobs of one state (see the trait method).
    pub(super) async fn list(&self, listing: &JobListing) -> Result<JobList> {
        listing.validate()?;
        let now = self.dialect.now();
        let (column, state) = match listing.state {
            ListedState::Running => ("lease_expires_at", "state = 'running'".to_owned()),
            ListedState::Scheduled => ("run_at", format!("state = 'pending' AND run_at > {now}")),
            ListedState::Ready => ("run_at", format!("state = 'pending' AND run_at <= {now}")),
        };
        let mut values: Vec<Value> = vec![self.options.name.clone().into()];
        let mut cond = format!("queue = $1 AND {state}");
        if let Some(job_type) = &listing.job_type {
            values.push(job_type.clone().into());
            cond.push_str(&format!(" AND job_type = ${}", values.len()));
        }
        if let Some(after) = listing.after {
            values.push(after.at.timestamp_millis().into());
            values.push(after.id.into());
            let (at, id) = (values.len() - 1, values.len());
            cond.push_str(&format!(
                " AND ({column} > ${at} OR ({column} = ${at} AND id > ${id}))"
            ));
        }
        values.push(int(listing.limit));
        let sql = format!(
            "SELECT {} FROM stack_jobs WHERE {cond} ORDER BY {column}, id LIMIT ${}",
            self.dialect.columns(None),
            values.len()
        );
        let rows = self.rows(&self.db, "list jobs", sql, values).await?;
        let jobs = rows
            .iter()
            .map(|row| {
                let expires: Option<i64> = get(row, "lease_expires_at")?;
                Ok(ListedJob {
                    job: job(row)?,
                    lease_expires_at: match listing.state {
                        ListedState::Running => expires.map(time).transpose()?,
                        _ => None,
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(JobList::full_or_last(jobs, listing.limit))
    }
}
