//! The nodes' power states as the console shows them: what the last status read of every
//! node found, and what every job since confirmed. A page is served at once from what is
//! kept; a read of every node starts in the background when that is older than
//! `MAX_AGE` (one at a time, however many browsers ask), and the pages' script fetches the
//! states again a few seconds later.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::device::PowerState;
use crate::fleet::inventory::Node;
use crate::fleet::power::{self, Command, Outcome};
use crate::serve::jobs::World;

/// How old the states may be before a page asks for a new read.
pub const MAX_AGE: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct NodeStates {
    kept: Mutex<Kept>,
    reading: AtomicBool,
}

#[derive(Default)]
struct Kept {
    /// When every node was last read (None: never).
    at: Option<Instant>,
    /// The world those states belong to (its address: a reload makes a new one).
    world: usize,
    states: HashMap<String, Option<PowerState>>,
}

/// What the console says of a node's state.
pub fn word(state: Option<PowerState>) -> &'static str {
    match state {
        Some(PowerState::On) => "ON",
        Some(PowerState::Off) => "OFF",
        None => "UNKNOWN",
    }
}

impl NodeStates {
    /// The state kept for each node of `world` (None: unknown), and how old the read is.
    pub fn get(
        &self,
        world: &Arc<World>,
    ) -> (HashMap<String, Option<PowerState>>, Option<Duration>) {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if kept.world != Arc::as_ptr(world) as usize {
            return (HashMap::new(), None);
        }
        (kept.states.clone(), kept.at.map(|t| t.elapsed()))
    }

    /// Start a read of every node when the kept one is too old and none is under way.
    pub fn refresh(self: &Arc<Self>, world: Arc<World>) {
        {
            let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            let fresh = kept.world == Arc::as_ptr(&world) as usize
                && kept.at.is_some_and(|t| t.elapsed() < MAX_AGE);
            if fresh {
                return;
            }
        }
        if self.reading.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let nodes: Vec<&Node> = world.inventory.nodes.iter().collect();
            let opts = power::Options {
                progress: false,
                ..power::Options::default()
            };
            let outcome = power::run_targets(
                &world.inventory,
                &world.registry,
                &world.env,
                &nodes,
                Command::Status,
                &opts,
                &|_| {},
            );
            let mut kept = me.kept.lock().unwrap_or_else(|p| p.into_inner());
            let key = Arc::as_ptr(&world) as usize;
            if kept.world != key {
                kept.states.clear();
                kept.world = key;
            }
            for n in &outcome.nodes {
                kept.states.insert(n.node.clone(), n.state);
            }
            kept.at = Some(Instant::now());
            drop(kept);
            me.reading.store(false, Ordering::SeqCst);
        });
    }

    /// What a job confirmed (its targets that are nodes of `world`).
    pub fn note(&self, world: &Arc<World>, outcome: &Outcome) {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let key = Arc::as_ptr(world) as usize;
        if kept.world != key {
            // A world no read has seen yet: start its states with what the job confirmed.
            *kept = Kept {
                at: None,
                world: key,
                states: HashMap::new(),
            };
        }
        for n in &outcome.nodes {
            if world.inventory.node(&n.node).is_some() {
                kept.states.insert(n.node.clone(), n.state);
            }
        }
    }
}
