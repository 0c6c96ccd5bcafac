//! [`Queue`] for [`RedisQueue`]: each method is one script call (or one per chunk).

use super::*;

#[async_trait]
impl Queue for RedisQueue {
    fn name(&self) -> &'static str {
        if self.target.is_cluster() {
            "redis-cluster"
        } else {
            "redis"
        }
    }

    fn location(&self) -> Option<QueueLocation> {
        Some(QueueLocation {
            name: self.options.name.clone(),
            namespace: self.keys.namespace(),
        })
    }

    fn capabilities(&self) -> QueueCapabilities {
        QueueCapabilities::default().with_durable(true)
    }

    fn unique_key_retention(&self) -> Option<Duration> {
        Some(self.options.completed_retention)
    }

    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        job.validate()?;
        let job = job.traced();
        let mut done = self.enqueue_chunk(std::slice::from_ref(&job)).await?;
        stack_core::metrics::enqueued_batch(std::slice::from_ref(&job), &done);
        done.pop()
            .ok_or_else(|| Error::backend("Redis queue: empty enqueue reply"))
    }

    async fn enqueue_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        validate_batch(&jobs)?;
        let jobs: Vec<NewJob> = jobs.into_iter().map(NewJob::traced).collect();
        let mut done = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks(CHUNK) {
            let stored = self.enqueue_chunk(chunk).await?;
            stack_core::metrics::enqueued_batch(chunk, &stored);
            done.extend(stored);
        }
        Ok(done)
    }

    async fn reserve(&self, max: usize, lease_for: Duration) -> Result<Vec<Lease>> {
        validate_reserve(max, lease_for)?;
        let max = max.min(CHUNK);
        let mut args = vec![
            max.to_string(),
            lease_for.as_millis().max(1).to_string(),
            RECOVER_ON_RESERVE.to_string(),
            self.options.completed_retention.as_millis().to_string(),
        ];
        // Random lease ids, one per job this call may lease: never repeated, even by a
        // server that lost its last writes in a failover.
        args.extend((0..max).map(|_| uuid::Uuid::new_v4().to_string()));
        let reply = self.run(Op::Reserve, &args).await?;
        let (expiry, notes, rows) = split_reserve_reply(&reply)?;
        log_notes(notes);
        let expires_at = millis(expiry)?;
        let mut leases = Vec::with_capacity(rows.len() / ROW);
        for row in rows.chunks(ROW) {
            match decode(row) {
                Ok((job, Some(lease_id))) => leases.push(Lease {
                    token: LeaseToken {
                        job_id: job.id,
                        attempt: job.attempts,
                        lease_id,
                    },
                    job,
                    expires_at,
                }),
                Ok((job, None)) => {
                    tracing::error!(job = %job.id, "Redis queue: a leased job came back without a lease");
                }
                Err(error) => self.bury_unreadable(row, &error).await,
            }
        }
        Ok(leases)
    }

    async fn complete(&self, token: &LeaseToken) -> Result<()> {
        let mut args = vec!["complete".to_owned()];
        args.extend(token_args(std::slice::from_ref(token)));
        self.settle_one(args, token).await.map(drop)
    }

    async fn fail(&self, token: &LeaseToken, failure: Failure) -> Result<FailOutcome> {
        let backoff = failure.delay(&self.options.backoff, token.attempt);
        let args = vec![
            "fail".to_owned(),
            token.job_id.to_string(),
            token.lease_id.to_string(),
            failure.message,
            if failure.retryable { "1" } else { "0" }.to_owned(),
            backoff.as_millis().to_string(),
        ];
        let answer = self.settle_one(args, token).await?;
        match answer.strip_prefix('R') {
            Some(at) => Ok(FailOutcome::Retrying {
                run_at: millis(at)?,
            }),
            None => Ok(FailOutcome::Dead),
        }
    }

    async fn extend(&self, token: &LeaseToken, lease_for: Duration) -> Result<DateTime<Utc>> {
        let mut results = self
            .extend_many(std::slice::from_ref(token), lease_for)
            .await?;
        results
            .pop()
            .unwrap_or_else(|| Err(Error::backend("Redis queue: empty extend reply")))
    }

    async fn release(&self, token: &LeaseToken) -> Result<()> {
        let mut args = vec!["release".to_owned()];
        args.extend(token_args(std::slice::from_ref(token)));
        self.settle_one(args, token).await.map(drop)
    }

    async fn complete_many(&self, tokens: &[LeaseToken]) -> Result<Vec<Result<()>>> {
        let mut results = Vec::with_capacity(tokens.len());
        for chunk in tokens.chunks(CHUNK) {
            let mut args = vec!["complete".to_owned()];
            args.extend(token_args(chunk));
            let reply = self.run(Op::Settle, &args).await?;
            results.extend(chunk.iter().zip(&reply).map(|(t, a)| refused(a, t)));
        }
        Ok(results)
    }

    async fn extend_many(
        &self,
        tokens: &[LeaseToken],
        lease_for: Duration,
    ) -> Result<Vec<Result<DateTime<Utc>>>> {
        validate_lease(lease_for)?;
        let mut results = Vec::with_capacity(tokens.len());
        for chunk in tokens.chunks(CHUNK) {
            let mut args = vec!["extend".to_owned(), lease_for.as_millis().to_string()];
            args.extend(token_args(chunk));
            let reply = self.run(Op::Settle, &args).await?;
            results.extend(
                chunk
                    .iter()
                    .zip(&reply)
                    .map(|(t, a)| refused(a, t).and_then(|()| millis(a))),
            );
        }
        Ok(results)
    }

    async fn next_run_at(&self) -> Result<Option<DateTime<Utc>>> {
        let reply = self.admin(&["peek".to_owned()]).await?;
        match reply.get(1).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(at) => millis(at).map(Some),
        }
    }

    async fn wait_for_work(&self, max_wait: Duration) -> Result<()> {
        let reply = self.admin(&["peek".to_owned()]).await?;
        let now = millis(reply.first().map_or("", String::as_str))?;
        let wait = match reply.get(1).map(String::as_str) {
            None | Some("") => max_wait,
            Some(at) => {
                let at = millis(at)?;
                if at <= now {
                    return Ok(());
                }
                (at - now).to_std().unwrap_or_default().min(max_wait)
            }
        };
        if wait < Duration::from_millis(10) {
            tokio::time::sleep(wait).await;
            return Ok(());
        }
        self.block_on_marker(wait).await
    }

    async fn recover_expired(&self, limit: usize) -> Result<Progress> {
        validate_limit(limit)?;
        self.progress(&["recover".to_owned(), limit.min(CHUNK).to_string()])
            .await
    }

    async fn get(&self, id: JobId) -> Result<Option<Job>> {
        let reply = self.admin(&["get".to_owned(), id.to_string()]).await?;
        if reply.is_empty() {
            return Ok(None);
        }
        decode(&reply).map(|(job, _)| Some(job))
    }

    async fn stats(&self) -> Result<QueueStats> {
        let reply = self.admin(&["peek".to_owned()]).await?;
        let now = millis(reply.first().map_or("", String::as_str))?;
        let mut stats = QueueStats::default();
        let mut pending_total = 0;
        for (i, priority) in Priority::URGENT_FIRST.into_iter().enumerate() {
            let base = 2 + i * 3;
            let ready = count(reply.get(base))?;
            let oldest = match reply.get(base + 1).map(String::as_str) {
                None | Some("") => None,
                Some(at) => Some(millis(at)?),
            };
            pending_total += count(reply.get(base + 2))?;
            let age = oldest.map(|at| u64::try_from((now - at).num_milliseconds()).unwrap_or(0));
            stats.by_priority.insert(
                priority,
                PriorityStats {
                    ready,
                    oldest_ready_age_ms: age,
                },
            );
        }
        stats.scheduled = pending_total - stats.ready();
        stats.running = count(reply.get(14))?;
        stats.dead = count(reply.get(15))?;
        stats.completed = count(reply.get(16))?;
        Ok(stats)
    }

    async fn list_jobs(&self, listing: &JobListing) -> Result<JobList> {
        listing.validate()?;
        let state = match listing.state {
            ListedState::Running => "running",
            ListedState::Scheduled => "scheduled",
            ListedState::Ready => "ready",
        };
        let args = [
            "list".to_owned(),
            state.to_owned(),
            listing.job_type.clone().unwrap_or_default(),
            listing
                .after
                .map_or(String::new(), |c| c.at.timestamp_millis().to_string()),
            listing.after.map_or(String::new(), |c| c.id.to_string()),
            listing.limit.to_string(),
        ];
        let reply = self.admin(&args).await?;
        let malformed = || Error::backend("Redis queue: malformed listing reply");
        let [next_at, next_id, rest @ ..] = reply.as_slice() else {
            return Err(malformed());
        };
        let next = if next_at.is_empty() {
            None
        } else {
            Some(JobCursor {
                at: millis(next_at)?,
                id: next_id.parse().map_err(|_| malformed())?,
            })
        };
        let mut jobs = Vec::with_capacity(rest.len() / (ROW + 1));
        for entry in rest.chunks(ROW + 1) {
            let (score, row) = entry.split_first().ok_or_else(malformed)?;
            let (job, _) = decode(row)?;
            let running = listing.state == ListedState::Running;
            jobs.push(ListedJob {
                job,
                lease_expires_at: running.then(|| millis(score)).transpose()?,
            });
        }
        Ok(JobList { jobs, next })
    }

    async fn dead_letters(&self, job_type: Option<&str>, page: PageRequest) -> Result<Page<Job>> {
        validate_type_filter(job_type)?;
        let args = [
            "dead".to_owned(),
            job_type.unwrap_or_default().to_owned(),
            page.offset().to_string(),
            page.limit().to_string(),
        ];
        let reply = self.admin(&args).await?;
        let Some((total, rows)) = reply.split_first() else {
            return Err(Error::backend("Redis queue: empty dead-letter reply"));
        };
        let total = count(Some(total))?;
        let jobs = decode_all(rows)?.into_iter().map(|(job, _)| job).collect();
        Ok(Page::new(jobs, page, total))
    }

    async fn requeue_dead(&self, id: JobId) -> Result<()> {
        let reply = self.admin(&["requeue".to_owned(), id.to_string()]).await?;
        if reply.first().map(String::as_str) == Some("OK") {
            Ok(())
        } else {
            Err(Error::not_found(format!("dead job {id}")))
        }
    }

    async fn requeue_dead_by_type(&self, job_type: &str, limit: usize) -> Result<Progress> {
        validate_limit(limit)?;
        validate_type_filter(Some(job_type))?;
        let args = [
            "requeue_type".to_owned(),
            job_type.to_owned(),
            limit.min(CHUNK).to_string(),
        ];
        self.progress(&args).await
    }

    async fn purge_dead(&self, job_type: Option<&str>, limit: usize) -> Result<Progress> {
        validate_limit(limit)?;
        validate_type_filter(job_type)?;
        let args = [
            "purge".to_owned(),
            job_type.unwrap_or_default().to_owned(),
            limit.min(CHUNK).to_string(),
        ];
        self.progress(&args).await
    }

    async fn drop_queue(&self, force: bool, limit: usize) -> Result<Progress> {
        validate_limit(limit)?;
        let args = [
            "drop".to_owned(),
            if force { "1" } else { "0" }.to_owned(),
            limit.min(CHUNK).to_string(),
        ];
        let reply = self.admin(&args).await?;
        if reply.first().map(String::as_str) == Some("C") {
            let running = count(reply.get(1))?;
            return Err(Error::conflict(format!(
                "{running} jobs are running: drop the queue once they finish, or force it"
            )));
        }
        Ok(Progress {
            done: count(reply.first())?,
            remaining: count(reply.get(1))?,
        })
    }

    async fn record_worker(&self, beat: &WorkerBeat, ttl: Duration) -> Result<()> {
        self.record_worker_entry(beat, ttl).await
    }

    async fn workers(&self) -> Result<Vec<LiveWorker>> {
        self.worker_entries().await
    }

    async fn forget_worker(&self, id: uuid::Uuid) -> Result<()> {
        self.forget_worker_entry(id).await
    }

    async fn health(&self) -> Result<()> {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(drop)
            .map_err(redis_error)
    }
}
