use pushtrace_store::{CallQuery, CallState, Page, PageKey, TokenQuery};

use super::{at, new_call, registration};
use crate::harness::Harness;

/// Pages through `first` and what follows it, checking each page's size and that the last
/// page says so.
async fn all_pages<T, F, Fut>(limit: usize, mut page: F) -> Vec<Vec<T>>
where
    F: FnMut(Option<PageKey>) -> Fut,
    Fut: std::future::Future<Output = Page<T>>,
{
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let Page { items, next } = page(after).await;
        assert!(items.len() <= limit);
        let last = next.is_none();
        if !last {
            assert_eq!(items.len(), limit, "a page before the last is full");
        }
        pages.push(items);
        if last {
            return pages;
        }
        after = next;
        assert!(pages.len() < 100, "paging does not end");
    }
}

pub async fn calls_are_listed_newest_first_a_page_at_a_time(h: &Harness) {
    let store = &h.store;
    // Three calls share a creation time: the call id orders them, so a page boundary inside
    // the tie neither repeats nor skips one.
    let created = [
        ("c1", 0),
        ("c2", 10),
        ("c3", 10),
        ("c4", 10),
        ("c5", 20),
        ("c6", 30),
    ];
    for (id, second) in created {
        let mut call = new_call(id, &format!("b-{id}"));
        call.created_at = at(second);
        call.deadline = at(second + 60);
        store.create_call(&call, &[], &[]).await.unwrap();
    }
    let mut other = new_call("x1", "b-x1");
    other.app = "other".into();
    other.created_at = at(15);
    store.create_call(&other, &[], &[]).await.unwrap();
    for id in ["c2", "c5"] {
        store
            .transition_call(id, &[CallState::Ringing], CallState::Answered, at(40))
            .await
            .unwrap()
            .unwrap();
    }

    let query = |after, limit| CallQuery {
        app: "acme".into(),
        state: None,
        since: None,
        until: None,
        after,
        limit,
    };
    for limit in [1, 2, 4, 6, 50] {
        let pages = all_pages(limit, |after| {
            let q = query(after, limit);
            async move { store.list_calls(&q).await.unwrap() }
        })
        .await;
        let ids: Vec<_> = pages.concat().into_iter().map(|c| c.call_id).collect();
        assert_eq!(ids, ["c6", "c5", "c4", "c3", "c2", "c1"], "limit {limit}");
    }

    let ids = |page: Page<pushtrace_store::Call>| {
        page.items
            .into_iter()
            .map(|c| c.call_id)
            .collect::<Vec<_>>()
    };
    let answered = CallQuery {
        state: Some(CallState::Answered),
        ..query(None, 50)
    };
    assert_eq!(
        ids(store.list_calls(&answered).await.unwrap()),
        ["c5", "c2"]
    );
    // [since, until): since is in, until is out.
    let window = CallQuery {
        since: Some(at(10)),
        until: Some(at(20)),
        ..query(None, 2)
    };
    let first = store.list_calls(&window).await.unwrap();
    assert_eq!(
        first.next,
        Some(PageKey {
            at: at(10),
            id: "c3".into()
        })
    );
    assert_eq!(ids(first.clone()), ["c4", "c3"]);
    let second = CallQuery {
        after: first.next,
        ..window.clone()
    };
    let second = store.list_calls(&second).await.unwrap();
    assert_eq!(second.next, None);
    assert_eq!(ids(second), ["c2"]);
    let ringing_since = CallQuery {
        state: Some(CallState::Ringing),
        since: Some(at(10)),
        ..query(None, 50)
    };
    assert_eq!(
        ids(store.list_calls(&ringing_since).await.unwrap()),
        ["c6", "c4", "c3"]
    );
    let nothing = CallQuery {
        app: "nobody".into(),
        ..query(None, 50)
    };
    assert_eq!(
        store.list_calls(&nothing).await.unwrap(),
        Page {
            items: vec![],
            next: None
        }
    );
    // Text that means something in SQL is only a value.
    let quoted = CallQuery {
        after: Some(PageKey {
            at: at(10),
            id: "c4' OR '1'='1".into(),
        }),
        ..query(None, 50)
    };
    assert_eq!(
        ids(store.list_calls(&quoted).await.unwrap()),
        ["c4", "c3", "c2", "c1"]
    );
}

pub async fn a_users_tokens_are_listed_newest_first_a_page_at_a_time(h: &Harness) {
    let store = &h.store;
    for (user, token, second) in [
        ("alice", "t1", 0),
        ("alice", "t2", 5),
        ("alice", "t3", 5),
        ("alice", "t4", 9),
        ("alice", "t5", 12),
        ("bob", "b1", 7),
    ] {
        store
            .register_token(&registration(user, token, second))
            .await
            .unwrap();
    }
    assert!(store.unregister_token("acme", "t3", at(20)).await.unwrap());

    let query = |after, limit| TokenQuery {
        app: "acme".into(),
        user: "alice".into(),
        valid: None,
        after,
        limit,
    };
    for limit in [1, 2, 3, 5, 500] {
        let pages = all_pages(limit, |after| {
            let q = query(after, limit);
            async move { store.list_tokens(&q).await.unwrap() }
        })
        .await;
        let tokens: Vec<_> = pages.concat().into_iter().map(|t| t.token).collect();
        assert_eq!(tokens, ["t5", "t4", "t3", "t2", "t1"], "limit {limit}");
    }
    let tokens = |q: TokenQuery| async move {
        store
            .list_tokens(&q)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|t| (t.token, t.invalidated_reason))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        tokens(TokenQuery {
            valid: Some(false),
            ..query(None, 50)
        })
        .await,
        [("t3".to_owned(), Some("unregistered".to_owned()))]
    );
    let valid: Vec<_> = tokens(TokenQuery {
        valid: Some(true),
        ..query(None, 50)
    })
    .await
    .into_iter()
    .map(|(t, _)| t)
    .collect();
    assert_eq!(valid, ["t5", "t4", "t2", "t1"]);
    let bob = tokens(TokenQuery {
        user: "bob".into(),
        ..query(None, 50)
    })
    .await;
    assert_eq!(bob, [("b1".to_owned(), None)]);
}
