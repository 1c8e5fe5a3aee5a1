//! The shared suite, run once on SQLite (a temporary file) and once on PostgreSQL (a fresh
//! schema per test in `PUSHTRACE_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`). PostgreSQL tests fail, never skip, when the
//! server is not there.

mod harness;
mod suite;

use harness::Harness;

macro_rules! on_both_backends {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let harness = Harness::sqlite().await;
                    suite::$module::$name(&harness).await;
                    harness.finish().await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let harness = Harness::postgres().await;
                    suite::$module::$name(&harness).await;
                    harness.finish().await;
                }
            )*
        }
    };
}

on_both_backends!(
    tokens::apps_are_upserted,
    tokens::registering_again_revives_a_token,
    tokens::unregister_invalidates_once,
    tokens::invalidation_follows_the_410_rule,
    tokens::active_tokens_are_the_valid_ones_oldest_first,
    calls::create_call_stores_call_attempts_and_jobs_once,
    calls::create_call_is_all_or_nothing,
    calls::concurrent_duplicates_create_one_call,
    calls::concurrent_creates_answer_each_its_own,
    calls::transition_is_compare_and_set,
    calls::times_come_back_as_the_same_instants_in_utc,
    calls::a_hand_edited_row_is_an_error_not_a_panic,
    pushes::attempt_lifecycle,
    pushes::unknown_push_ids_are_refused_clearly,
    pushes::second_receipt_is_a_duplicate,
    pushes::device_receipt_covers_every_push_of_the_call_to_the_token,
    pushes::events_are_appended_in_order,
    pushes::concurrent_writes_fail_alone,
    pushes::token_history_is_newest_first_with_receipts,
    purposes::purposes_are_kept_and_end_pushes_left_out_of_ring_measures,
    jobs::claims_follow_due_time_and_leases,
    jobs::only_the_owner_completes_or_reschedules,
    jobs::concurrent_claimers_never_share_a_job,
    jobs::claim_job_by_id,
    push_writes::create_call_claiming_claims_only_what_is_due,
    push_writes::finish_push_answers_and_completes_together,
    push_writes::concurrent_push_writes_fail_alone,
    rollups::rollup_counts_per_cohort,
    rollups::rollup_day_replaces_and_validates,
    records::export_import_round_trip,
    records::import_skips_existing_push_ids,
    listing::calls_are_listed_newest_first_a_page_at_a_time,
    listing::a_users_tokens_are_listed_newest_first_a_page_at_a_time,
    migrations::reopen_is_idempotent,
    migrations::newer_schema_is_refused,
);
