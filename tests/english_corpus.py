"""A small English corpus written for these tests: one wire story, its outlet copies, and
same-topic stories that are not copies. Groups: ``EXPECTED``."""

WIRE = """Port authority approves $2 billion harbour expansion despite fishing fleet protests

By Staff Reporter

OSLAND, March 3, 2024 (Reuters) - The Osland Port Authority on Sunday approved a $2 billion expansion of the city's deep-water harbour, overriding months of protests by the local fishing fleet, which says dredging will destroy the spawning grounds it depends on.

The board voted six to one to proceed with the first phase, which will deepen the main channel to 18 metres and add two container berths by 2027, authority chairwoman Ingrid Solberg told reporters after the meeting.

"This is the largest investment in the port in a century, and it will bring thousands of jobs to the region," Solberg said. "We have listened carefully to every objection and we have changed the plan where we could."

The fishermen's cooperative, which represents about 400 boats, said it would challenge the decision in court and called the environmental review rushed and incomplete.

"They are trading a living sea for a parking lot for ships," said cooperative leader Anders Vik, whose family has fished the bay for five generations.

An independent study commissioned by the cooperative last year found that the dredging plan would disturb roughly a third of the cod spawning area in the inner bay during the four-year construction period.

The authority says it will fund a 40 million dollar programme to restore seagrass beds and will halt dredging during the spawning season from January to April each year.

Shipping companies have pushed for the expansion for a decade, arguing that the current channel is too shallow for the largest container vessels, which now unload at rival ports further south.

The national transport ministry still has to sign off on the financing, a decision expected before the summer, a ministry spokesman said.

Construction could begin as early as the autumn if the court does not grant an injunction, according to the authority's timetable."""

# Whole copy, wrapped in site furniture.
COPY_FURNITURE = """Home | News | Business

Port authority approves $2 billion harbour expansion despite fishing fleet protests

Share on Facebook
Share on Twitter

OSLAND, March 3, 2024 (Reuters) - The Osland Port Authority on Sunday approved a $2 billion expansion of the city's deep-water harbour, overriding months of protests by the local fishing fleet, which says dredging will destroy the spawning grounds it depends on.

The board voted six to one to proceed with the first phase, which will deepen the main channel to 18 metres and add two container berths by 2027, authority chairwoman Ingrid Solberg told reporters after the meeting.

"This is the largest investment in the port in a century, and it will bring thousands of jobs to the region," Solberg said. "We have listened carefully to every objection and we have changed the plan where we could."

Read more: Fish prices hit record high as quotas tighten

The fishermen's cooperative, which represents about 400 boats, said it would challenge the decision in court and called the environmental review rushed and incomplete.

"They are trading a living sea for a parking lot for ships," said cooperative leader Anders Vik, whose family has fished the bay for five generations.

An independent study commissioned by the cooperative last year found that the dredging plan would disturb roughly a third of the cod spawning area in the inner bay during the four-year construction period.

The authority says it will fund a 40 million dollar programme to restore seagrass beds and will halt dredging during the spawning season from January to April each year.

Shipping companies have pushed for the expansion for a decade, arguing that the current channel is too shallow for the largest container vessels, which now unload at rival ports further south.

The national transport ministry still has to sign off on the financing, a decision expected before the summer, a ministry spokesman said.

Construction could begin as early as the autumn if the court does not grant an injunction, according to the authority's timetable.

Follow us on Twitter and Facebook for the latest news.
Copyright 2024 Coastal Daily. All rights reserved.
Advertisement"""

# Trimmed after four paragraphs, credit kept.
COPY_TRIMMED = """Osland port expansion gets green light

(Reuters) - The Osland Port Authority on Sunday approved a $2 billion expansion of the city's deep-water harbour, overriding months of protests by the local fishing fleet, which says dredging will destroy the spawning grounds it depends on.

The board voted six to one to proceed with the first phase, which will deepen the main channel to 18 meters and add two container berths by 2027, authority chairwoman Ingrid Solberg told reporters after the meeting.

"This is the largest investment in the port in a century, and it will bring thousands of jobs to the region," Solberg said.

The fishermen's cooperative, which represents about 400 boats, said it would challenge the decision in court."""

# A local lead, US spelling, a dropped paragraph, light rewording, a closing paragraph of its own.
COPY_REWRITTEN = """Harbor plan approved; Northgate fishermen fear for their catch

NORTHGATE - Fishermen in Northgate, the small town across the bay from Osland, said on Monday they feared for their livelihoods after the port decision.

The Osland Port Authority on Sunday approved a 2 billion dollar expansion of the city's deep-water harbor, overriding months of protests by the local fishing fleet, which says dredging will destroy the spawning grounds it relies on.

The board voted 6-1 to go ahead with the first phase, which will deepen the main channel to 18 meters and add two container berths by 2027, authority chairwoman Ingrid Solberg told reporters after the meeting.

The fishermen's cooperative, which represents some 400 boats, said it would challenge the decision in court and called the environmental review rushed and incomplete.

An independent study commissioned by the cooperative last year found that the dredging plan would disturb roughly a third of the cod spawning area in the inner bay during the four-year construction period.

The authority says it will fund a $40 million program to restore seagrass beds and will stop dredging during the spawning season from January to April every year.

In Northgate, where nearly every family has someone working on the boats, the mood at the harbor cafe was grim on Monday morning, and several skippers said they would join the court challenge."""

# Same event, written independently, quoting the same chairwoman line.
NOT_COPY_SAME_EVENT = """Osland votes for bigger port as fishermen vow legal fight

Osland's port board gave the go-ahead on Sunday to a long-debated plan to deepen the harbour, a project that supporters say will make the city a major container hub and opponents say will ruin the bay.

Six of the seven board members backed the scheme. The lone dissenting member, harbour pilot Marte Lund, said the board should have waited for a second environmental study before voting.

"This is the largest investment in the port in a century, and it will bring thousands of jobs to the region," chairwoman Ingrid Solberg said after the vote.

Fishing families gathered outside the town hall with banners and a coffin painted with the words "inner bay". Many of them have spent two years campaigning against the plan and say the compensation offered to them is far too small.

The port has been losing business to larger harbours in the south since the early 2010s, when the newest generation of container ships could no longer enter its channel fully loaded.

Lawyers for the fishermen said they would file for an injunction within days. A hearing is unlikely before the end of the month, court officials said."""

# Same topic, an analysis piece: shares vocabulary, not text.
NOT_COPY_ANALYSIS = """Analysis: Can Osland's fishermen and its container port share one bay?

For two years the argument over Osland's harbour has been framed as jobs against fish. The reality is more tangled.

The port authority's own figures suggest most of the promised jobs would come during construction, and that the finished terminal would employ a few hundred people, many of them in automated roles.

The fishing fleet, meanwhile, is smaller than it was, but it supplies processing plants and restaurants along the whole coast, and the cod of the inner bay are a brand in their own right.

Marine biologists consulted for this article said seagrass restoration can work but takes a decade or more, far longer than the construction period, and that halting dredging in spawning season helps only if silt does not drift into the bay for months afterwards.

Other small ports facing the same choice have tried to zone their bays, keeping shipping lanes away from nursery grounds. Whether Osland's geography allows that is the question the court may end up answering."""

# A different story on the same site as COPY_FURNITURE, with the same furniture.
UNRELATED_SAME_SITE = """Home | News | Business

City council delays vote on new tram line to the airport

Share on Facebook
Share on Twitter

The Osland city council on Tuesday postponed a vote on the long-planned tram line to the airport after two parties said they needed more time to study the revised cost estimate.

The line, first proposed in 2015, would connect the central station with the airport in 22 minutes and carry an estimated eight million passengers a year.

The revised estimate puts the cost at 1.3 billion, almost twice the original figure, mainly because of tunnelling under the old town.

Council leader Jonas Berg said the vote would now take place in May and that he was confident the project had a majority.

Follow us on Twitter and Facebook for the latest news.
Copyright 2024 Coastal Daily. All rights reserved.
Advertisement"""

ARTICLES = {
    "en-wire": WIRE,
    "en-copy-furniture": COPY_FURNITURE,
    "en-copy-trimmed": COPY_TRIMMED,
    "en-copy-rewritten": COPY_REWRITTEN,
    "en-same-event": NOT_COPY_SAME_EVENT,
    "en-analysis": NOT_COPY_ANALYSIS,
    "en-other-story": UNRELATED_SAME_SITE,
}

EXPECTED = [
    {"en-wire", "en-copy-furniture", "en-copy-trimmed", "en-copy-rewritten"},
    {"en-same-event"},
    {"en-analysis"},
    {"en-other-story"},
]
