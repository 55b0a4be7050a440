"""The calls of a period with the flags that depend on other calls.

First-call resolution and repeat complaints look forward: a call is
*repeated* when the same number reaches the same queue again within
``fcr.days`` after it; a complaint *repeats* when the same number complains
again (any queue) within ``complaints.days``. Time is the moment the call
reached the queue. Live and report both keep their calls here.
"""

from __future__ import annotations

from collections.abc import Iterable

from cti.kpi.facts import CallFact, ms
from cti.kpi.figures import Counters, contribution, is_complaint
from cti.kpi.options import KpiOptions

DAY_S = 86400.0


class CallBook:
    def __init__(self, options: KpiOptions) -> None:
        self.options = options
        self.facts: dict[str, CallFact] = {}
        self.wrap_ms: dict[str, int] = {}
        self._by_number: dict[str, list[str]] = {}
        self._repeated: set[str] = set()
        self._repeat_complaint: set[str] = set()

    def put(self, fact: CallFact) -> set[str]:
        """Add or replace a call; returns the calls whose contribution may have changed."""
        old = self.facts.get(fact.call_id)
        self.facts[fact.call_id] = fact
        if old is not None and old.caller_number != fact.caller_number:
            self._unindex(old)
        if not fact.caller_number:
            return {fact.call_id}
        ids = self._by_number.setdefault(fact.caller_number, [])
        if fact.call_id not in ids:
            ids.append(fact.call_id)
        return self._relate(fact.caller_number) | {fact.call_id}

    def put_all(self, facts: Iterable[CallFact]) -> None:
        """Add many calls (a report's): the same book as ``put`` of each in turn,
        with each number's flags computed once instead of once per call (and not
        at all for a number's first call: a single call repeats nothing)."""
        known, by_number = self.facts, self._by_number
        touched: set[str] = set()  # numbers with a call added to others
        for fact in facts:
            call_id = fact.call_id
            if call_id in known:  # a replacement: as ``put`` does it
                for number in touched:
                    self._relate(number)
                touched.clear()
                self.put(fact)
                continue
            known[call_id] = fact
            number = fact.caller_number
            if number:
                ids = by_number.get(number)
                if ids is None:
                    by_number[number] = [call_id]
                else:
                    ids.append(call_id)
                    touched.add(number)
        for number in touched:
            self._relate(number)

    def add_wrap(self, call_id: str, wrap_ms: int) -> bool:
        """Wrap-up time after a call; False when the call is not in the book."""
        if call_id not in self.facts:
            return False
        self.wrap_ms[call_id] = self.wrap_ms.get(call_id, 0) + wrap_ms
        return True

    def contribution(self, call_id: str) -> Counters:
        return contribution(
            self.facts[call_id],
            self.options,
            repeated=call_id in self._repeated,
            repeat_complaint=call_id in self._repeat_complaint,
            wrap_ms=self.wrap_ms.get(call_id, 0),
        )

    def tally(self, call_ids: Iterable[str]) -> Counters:
        """The sum of the ``contribution`` of each call (each once), added up in
        local variables: a report sums tens of thousands (the same counters as
        ``Counters.add`` of each contribution, as the unit tests check)."""
        options = self.options
        sl = options.service_level
        short_ms, exclude_short = ms(sl.short_abandon_s), sl.exclude_short_abandons
        threshold: dict[str, int] = {}
        mode, resolved_codes = options.fcr.mode, options.fcr.resolved_codes
        complaint_codes, csat_good = options.complaints.codes, options.csat_good
        facts, wraps = self.facts, self.wrap_ms
        repeated_set, complaint_set = self._repeated, self._repeat_complaint
        offered = answered = in_sl = abandoned = short_abandoned = lost = handled = 0
        wait = max_wait = talk = hold = wrap = fcr_calls = fcr_resolved = 0
        complaints = repeat_complaints = surveys = survey_sum = survey_good = 0
        nps_answers = promoters = detractors = 0
        for call_id in call_ids:
            f = facts[call_id]
            w = f.wait_ms
            if w > max_wait:
                max_wait = w
            if f.answered:
                offered += 1
                answered += 1
                wait += w
                limit = threshold.get(f.queue)
                if limit is None:
                    limit = threshold[f.queue] = options.threshold_ms(f.queue)
                if w <= limit:
                    in_sl += 1
                if f.final:
                    handled += 1
                    talk += f.talk_ms
                    hold += f.hold_ms
                    wrap += wraps.get(call_id, 0)
                    if f.caller_number:
                        fcr_calls += 1
                        by_code = f.disposition in resolved_codes
                        again = call_id in repeated_set
                        if (
                            not again
                            if mode == "repeat"
                            else by_code
                            if mode == "disposition"
                            else by_code and not again
                        ):
                            fcr_resolved += 1
            elif f.abandoned:
                short = w < short_ms
                if short:
                    short_abandoned += 1
                if not (short and exclude_short):
                    offered += 1
                    abandoned += 1
            else:
                offered += 1
                lost += 1
            if f.disposition in complaint_codes:
                complaints += 1
                if call_id in complaint_set:
                    repeat_complaints += 1
            score = f.survey_score
            if score is not None:
                surveys += 1
                survey_sum += score
                if score >= csat_good:
                    survey_good += 1
            score = f.nps_score
            if score is not None:
                nps_answers += 1
                if score >= 9:
                    promoters += 1
                if score <= 6:
                    detractors += 1
        return Counters(
            offered,
            answered,
            in_sl,
            abandoned,
            short_abandoned,
            lost,
            handled,
            wait,
            max_wait,
            talk,
            hold,
            wrap,
            fcr_calls,
            fcr_resolved,
            complaints,
            repeat_complaints,
            surveys,
            survey_sum,
            survey_good,
            nps_answers,
            promoters,
            detractors,
        )

    def _unindex(self, fact: CallFact) -> None:
        ids = self._by_number.get(fact.caller_number, [])
        if fact.call_id in ids:
            ids.remove(fact.call_id)
        self._repeated.discard(fact.call_id)
        self._repeat_complaint.discard(fact.call_id)

    def _relate(self, number: str) -> set[str]:
        """Recompute the flags of one number's calls; returns the calls whose flags
        changed. One sweep from the latest call back, so a number that calls all
        day (a withheld one, a test line) costs a pass, not a pass per pair."""
        ids = self._by_number[number]
        repeated_set, complaint_set = self._repeated, self._repeat_complaint
        if len(ids) == 1:  # a single call repeats nothing
            call_id = ids[0]
            was_flagged = call_id in repeated_set or call_id in complaint_set
            repeated_set.discard(call_id)
            complaint_set.discard(call_id)
            return {call_id} if was_flagged else set()
        calls = sorted((self.facts[i] for i in ids), key=lambda f: f.queued_at)
        fcr_s = self.options.fcr.days * DAY_S
        complaint_s = self.options.complaints.days * DAY_S
        # the earliest time strictly after the calls being looked at: per queue,
        # and of any complaint (a call repeats when one comes within the window)
        next_in_queue: dict[str, float] = {}
        next_complaint: float | None = None
        changed: set[str] = set()
        i = len(calls)
        while i > 0:
            at = calls[i - 1].queued_at
            j = i - 1
            while j > 0 and calls[j - 1].queued_at == at:
                j -= 1
            group = calls[j:i]  # the calls at this very moment (a gap of 0 is no repeat)
            for a in group:
                later = next_in_queue.get(a.queue)
                repeated = later is not None and later - at <= fcr_s
                repeat_complaint = (
                    next_complaint is not None
                    and next_complaint - at <= complaint_s
                    and is_complaint(a, self.options)
                )
                if repeated != (a.call_id in repeated_set):
                    (repeated_set.add if repeated else repeated_set.discard)(a.call_id)
                    changed.add(a.call_id)
                if repeat_complaint != (a.call_id in complaint_set):
                    (complaint_set.add if repeat_complaint else complaint_set.discard)(a.call_id)
                    changed.add(a.call_id)
            for a in group:
                next_in_queue[a.queue] = at
                if is_complaint(a, self.options):
                    next_complaint = at
            i = j
        return changed
