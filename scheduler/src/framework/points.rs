//! The typed plugin lists of one profile: one list per extension point, built once when
//! the framework is made (upstream's `frameworkImpl.preFilterPlugins`, `scorePlugins`, …).
//!
//! A plugin is one object serving several points; a [`Slot`] keeps that object and knows,
//! by its point marker, which of the plugin's interfaces it stands for. The framework
//! checks every slot when it builds the lists, so a slot's [`Slot::get`] always answers.

use std::marker::PhantomData;
use std::sync::Arc;

use super::traits::{
    BindPlugin, FilterPlugin, PermitPlugin, Plugin, PostBindPlugin, PostFilterPlugin,
    PreBindPlugin, PreEnqueuePlugin, PreFilterPlugin, PreScorePlugin, QueueSortPlugin,
    ReservePlugin, ScorePlugin,
};
use crate::config::ExtensionPoint;

/// An extension point: the interface its plugins implement and how to reach it.
pub trait Point {
    /// The point's plugin interface.
    type Dyn<'a>: ?Sized + 'a;
    /// `plugin`'s implementation of the point, if it has one.
    fn get(plugin: &dyn Plugin) -> Option<&Self::Dyn<'_>>;
}

macro_rules! points {
    ($($marker:ident: $trait:ident via $as:ident;)*) => {
        $(
            #[doc = concat!("The ", stringify!($marker), " extension point.")]
            #[derive(Debug)]
            pub enum $marker {}
            impl Point for $marker {
                type Dyn<'a> = dyn $trait + 'a;
                fn get(plugin: &dyn Plugin) -> Option<&Self::Dyn<'_>> {
                    plugin.$as()
                }
            }
        )*
        /// Whether `plugin` implements `point`.
        pub fn implements(plugin: &dyn Plugin, point: ExtensionPoint) -> bool {
            match point {
                $(ExtensionPoint::$marker => plugin.$as().is_some(),)*
            }
        }
    };
}

points! {
    PreEnqueue: PreEnqueuePlugin via as_pre_enqueue;
    QueueSort: QueueSortPlugin via as_queue_sort;
    PreFilter: PreFilterPlugin via as_pre_filter;
    Filter: FilterPlugin via as_filter;
    PostFilter: PostFilterPlugin via as_post_filter;
    PreScore: PreScorePlugin via as_pre_score;
    Score: ScorePlugin via as_score;
    Reserve: ReservePlugin via as_reserve;
    Permit: PermitPlugin via as_permit;
    PreBind: PreBindPlugin via as_pre_bind;
    Bind: BindPlugin via as_bind;
    PostBind: PostBindPlugin via as_post_bind;
}

/// One plugin at point `P`.
pub struct Slot<P: Point> {
    plugin: Arc<dyn Plugin>,
    name: &'static str,
    point: PhantomData<fn() -> P>,
}

impl<P: Point> Clone for Slot<P> {
    fn clone(&self) -> Self {
        Slot {
            plugin: self.plugin.clone(),
            name: self.name,
            point: PhantomData,
        }
    }
}

impl<P: Point> Slot<P> {
    /// A slot for `plugin`, when it implements `P`.
    pub fn new(plugin: Arc<dyn Plugin>) -> Option<Self> {
        P::get(plugin.as_ref())?;
        Some(Slot {
            name: plugin.name(),
            plugin,
            point: PhantomData,
        })
    }

    /// The plugin's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The plugin as `P`'s interface (always `Some`: checked in [`Slot::new`]).
    pub fn get(&self) -> Option<&P::Dyn<'_>> {
        P::get(self.plugin.as_ref())
    }
}

/// A Score plugin with its weight in the weighted sum.
#[derive(Clone)]
pub struct Weighted {
    /// The plugin.
    pub slot: Slot<Score>,
    /// Its weight (at least 1).
    pub weight: i64,
}

/// Every point's plugins, in the order the profile runs them.
#[derive(Clone, Default)]
pub struct PointLists {
    pub(super) pre_enqueue: Vec<Slot<PreEnqueue>>,
    pub(super) queue_sort: Vec<Slot<QueueSort>>,
    pub(super) pre_filter: Vec<Slot<PreFilter>>,
    pub(super) filter: Vec<Slot<Filter>>,
    pub(super) post_filter: Vec<Slot<PostFilter>>,
    pub(super) pre_score: Vec<Slot<PreScore>>,
    pub(super) score: Vec<Weighted>,
    pub(super) reserve: Vec<Slot<Reserve>>,
    pub(super) permit: Vec<Slot<Permit>>,
    pub(super) pre_bind: Vec<Slot<PreBind>>,
    pub(super) bind: Vec<Slot<Bind>>,
    pub(super) post_bind: Vec<Slot<PostBind>>,
}

fn push<P: Point>(list: &mut Vec<Slot<P>>, plugin: &Arc<dyn Plugin>) -> bool {
    match Slot::new(plugin.clone()) {
        Some(slot) => {
            list.push(slot);
            true
        }
        None => false,
    }
}

impl PointLists {
    /// Appends `plugin` at `point` (with `weight` at Score); false when the plugin does not
    /// implement the point.
    pub fn add(&mut self, point: ExtensionPoint, plugin: &Arc<dyn Plugin>, weight: i64) -> bool {
        match point {
            ExtensionPoint::PreEnqueue => push(&mut self.pre_enqueue, plugin),
            ExtensionPoint::QueueSort => push(&mut self.queue_sort, plugin),
            ExtensionPoint::PreFilter => push(&mut self.pre_filter, plugin),
            ExtensionPoint::Filter => push(&mut self.filter, plugin),
            ExtensionPoint::PostFilter => push(&mut self.post_filter, plugin),
            ExtensionPoint::PreScore => push(&mut self.pre_score, plugin),
            ExtensionPoint::Score => match Slot::new(plugin.clone()) {
                Some(slot) => {
                    self.score.push(Weighted { slot, weight });
                    true
                }
                None => false,
            },
            ExtensionPoint::Reserve => push(&mut self.reserve, plugin),
            ExtensionPoint::Permit => push(&mut self.permit, plugin),
            ExtensionPoint::PreBind => push(&mut self.pre_bind, plugin),
            ExtensionPoint::Bind => push(&mut self.bind, plugin),
            ExtensionPoint::PostBind => push(&mut self.post_bind, plugin),
        }
    }

    /// The names at `point`, in order.
    pub fn names(&self, point: ExtensionPoint) -> Vec<&'static str> {
        fn names<P: Point>(list: &[Slot<P>]) -> Vec<&'static str> {
            list.iter().map(Slot::name).collect()
        }
        match point {
            ExtensionPoint::PreEnqueue => names(&self.pre_enqueue),
            ExtensionPoint::QueueSort => names(&self.queue_sort),
            ExtensionPoint::PreFilter => names(&self.pre_filter),
            ExtensionPoint::Filter => names(&self.filter),
            ExtensionPoint::PostFilter => names(&self.post_filter),
            ExtensionPoint::PreScore => names(&self.pre_score),
            ExtensionPoint::Score => self.score.iter().map(|w| w.slot.name()).collect(),
            ExtensionPoint::Reserve => names(&self.reserve),
            ExtensionPoint::Permit => names(&self.permit),
            ExtensionPoint::PreBind => names(&self.pre_bind),
            ExtensionPoint::Bind => names(&self.bind),
            ExtensionPoint::PostBind => names(&self.post_bind),
        }
    }
}
