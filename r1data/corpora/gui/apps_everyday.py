"""Shopping list, form and messaging apps, with their tasks (see :mod:`r1data.corpora.gui.plans`)."""

from __future__ import annotations

import numpy as np

from r1data.corpora.gui.plans import (COLORS, PEOPLE, Task, click, fill, long_press, lower_half, more_options, phrase,
                                      pick)
from r1data.corpora.gui.ui import App, El

LISTS = {
    "Groceries": ["milk", "eggs", "bread", "butter", "apples", "bananas", "rice", "pasta", "tomatoes", "cheese",
                  "yogurt", "coffee", "tea", "onions", "carrots", "chicken", "olive oil", "cereal", "honey", "lemons"],
    "Hardware store": ["screws", "hammer", "light bulbs", "duct tape", "paint brush", "batteries", "glue", "sandpaper",
                       "wall plugs", "extension cord"],
    "Pharmacy": ["plasters", "sunscreen", "vitamin D", "toothpaste", "cough syrup", "shampoo", "cotton pads", "aspirin"],
    "Party": ["balloons", "candles", "napkins", "paper cups", "lemonade", "chips", "cake", "ice", "streamers"],
    "Weekend trip": ["sleeping bag", "flashlight", "snacks", "water bottles", "map", "rain jacket", "sunglasses"],
}


def shopping(rng: np.random.Generator) -> tuple[App, list[Task]]:
    app = App("shopping", pick(rng, ["Shopping List", "Listo", "Cart Notes"]), "#0b8043",
              splash_ms=int(rng.choice([0, 1000])))
    home = app.screen("sh-main", "My lists", back=False)
    app.main = home.id
    app.put(home, "actions", El("icon", "Search", icon="search"), more_options(app))
    names = pick(rng, list(LISTS), int(rng.integers(3, len(LISTS) + 1)))
    tasks = []
    for k, name in enumerate(names):
        pool = LISTS[name]
        have = pick(rng, pool, int(rng.integers(4, len(pool) - 1)))
        sid = f"sh-{k}"
        row = app.put(home, "body", El("nav_row", name, sub=f"{len(have)} items", nav=sid,
                                       color=pick(rng, COLORS)))[0]
        screen = app.screen(sid, name)
        screen.list_id = f"{sid}-items"
        dlg = app.dialog(f"{sid}-del", "Remove item?", "Remove from the list:", context=True)
        dlg.buttons = [app.add(El("dialog_button", "Cancel", do="close", style="flat"), dlg.id),
                       app.add(El("dialog_button", "Remove", do="delete", style="flat"), dlg.id)]
        items = app.put(screen, "body", *[El("check_row", it, checked=bool(rng.random() < 0.3), longpress=dlg.id,
                                             style="strike") for it in have])
        app.templates[screen.list_id] = El("check_row", "", checked=False, longpress=dlg.id, id="new", style="strike")
        box = El("input", pick(rng, ["Add item", "New item", "Add to list"]), html_id=f"{sid}-in")
        add = El("icon", "Add", icon="add", do="add", input=box.html_id, list=screen.list_id)
        app.put(screen, "composer", box, add)
        box.enter = add.id
        new = pick(rng, [p for p in pool if p not in have])
        steps = [click(row, f"Click on the {name} list", f"Open the {name} list", screen=sid)]
        tasks.append(Task("shopping.add", phrase(rng, ["Add {i} to my {l} list", "Put {i} on the {l} list",
                                                       "I need {i}, add it to {l}"], i=new, l=name), steps + [
            *fill(box, new, "add item"),
            click(add, "Click on the add button", f"Add {new} to the list", list_has=(screen.list_id, new))]))
        todo = [i for i in lower_half(rng, items) if not i.checked]
        if todo:
            it = pick(rng, todo)
            tasks.append(Task("shopping.check", phrase(rng, ["Mark {i} as bought in {l}", "Tick off {i} on my {l} list"],
                                                       i=it.label, l=name),
                              steps + [click(it, f"Click on {it.label}", f"Tick off {it.label}", checked=(it.id, True))]))
        gone = pick(rng, lower_half(rng, items))
        tasks.append(Task("shopping.remove", phrase(rng, ["Remove {i} from the {l} list", "Delete {i} from {l}"],
                                                    i=gone.label, l=name), steps + [
            long_press(gone, f"Long press on {gone.label}", f"Open the options for {gone.label}", dialog=dlg.id),
            click(dlg.buttons[1], "Click on Remove", f"Confirm removing {gone.label}", dialog=None,
                  list_lacks=(screen.list_id, gone.label))]))
    return app, tasks


FORMS = {
    "Contact us": [("Name", "name"), ("Email", "email"), ("Subject", "subject"), ("Message", "message")],
    "Create account": [("Full name", "name"), ("Email", "email"), ("Phone", "phone"), ("City", "city")],
    "Book a table": [("Name", "name"), ("Phone", "phone"), ("Date", "date"), ("Guests", "guests")],
    "Send feedback": [("Name", "name"), ("Email", "email"), ("Feedback", "message")],
    "Join the newsletter": [("First name", "first"), ("Email", "email")],
}
SUBJECTS = ["Order question", "Opening hours", "Refund", "Partnership", "Lost item", "Delivery delay"]
MESSAGES = ["Thanks for the quick help", "Please call me back", "The app works great", "Is the shop open Sunday",
            "See you at six", "Running ten minutes late", "Can we move it to Friday", "Happy birthday"]
CITIES = ["Lisbon", "Nairobi", "Osaka", "Toronto", "Lyon", "Bergen", "Austin", "Pune", "Cork", "Tartu"]


def _value(kind: str, person: str, rng: np.random.Generator) -> str:
    first, last = person.split()
    return {"name": person, "first": first, "email": f"{first.lower()}.{last.lower()}@example.com",
            "phone": f"+1 555 {int(rng.integers(100, 999))} {int(rng.integers(1000, 9999))}",
            "subject": pick(rng, SUBJECTS), "message": pick(rng, MESSAGES), "city": pick(rng, CITIES),
            "date": f"{int(rng.integers(1, 28))} {pick(rng, ['May', 'June', 'July'])}",
            "guests": str(int(rng.integers(2, 9)))}[kind]


def forms(rng: np.random.Generator) -> tuple[App, list[Task]]:
    title = pick(rng, list(FORMS))
    app = App("forms", pick(rng, ["Bookings", "Contact", "Sign Up", "Feedback"]), "#e37400", splash_ms=0)
    home = app.screen("fm-home", app.name, back=False)
    app.main = home.id
    intro = app.put(home, "body", El("note", f"Welcome to {app.name}. Choose what you want to do."),
                    El("nav_row", title, sub="Takes a minute", nav="fm-form"),
                    El("nav_row", "Opening hours", sub="Mon-Sat 9:00-18:00", nav="fm-hours"))[1]
    hours = app.screen("fm-hours", "Opening hours", kind="detail")
    app.put(hours, "body", *[El("kv", d, sub=h) for d, h in [("Mon-Fri", "9:00-18:00"), ("Saturday", "10:00-16:00"),
                                                             ("Sunday", "closed")]])
    form = app.screen("fm-form", title, kind="form")
    form.list_id = "fm-fields"
    person = pick(rng, PEOPLE)
    inputs, steps = [], [click(intro, f"Click on {title}", f"Open the {title.lower()} form", screen="fm-form")]
    for label, kind in FORMS[title]:
        box = El("input", label, html_id=f"fm-{kind}", required=True)
        app.put(form, "body", El("field", label, child=box))
        inputs.append((box, _value(kind, person, rng), label.lower()))
    agree = app.put(form, "after", El("check_row", pick(rng, ["I agree to the terms", "I accept the privacy policy"]),
                                      checked=False, required=True))[0]
    app.put(form, "after", El("error", "Please fill in every field."))
    send = app.put(form, "after", El("button", pick(rng, ["Submit", "Send", "Continue"]), do="submit", form="fm-form",
                                     nav="fm-done", style="wide"))[0]
    done = app.screen("fm-done", "Done", kind="done")
    app.put(done, "body", El("big", "Thank you,", sub=inputs[0][0].html_id),
            El("note", "We have received your details."))
    for box, value, what in inputs:
        steps += fill(box, value, what)
    steps += [click(agree, f"Click on {agree.label}", "Accept the terms, which the form requires",
                    checked=(agree.id, True)),
              click(send, f"Click on {send.label}", f"Send the {title.lower()} form", screen="fm-done")]
    details = " and ".join(f"{what} {value}" for _, value, what in inputs[:2])
    goal = phrase(rng, ["Fill in the {t} form with {d} and submit it", "Complete {t} using {d}",
                        "Submit the {t} form as {p} ({d})"], t=title.lower(), d=details, p=person)
    return app, [Task("forms.submit", goal, steps)]


def messaging(rng: np.random.Generator) -> tuple[App, list[Task]]:
    app = App("messaging", pick(rng, ["Messages", "Chat", "Talk"]), "#00838f", splash_ms=int(rng.choice([0, 1100])))
    home = app.screen("ms-home", app.name, back=False)
    app.main = home.id
    app.put(home, "actions", El("icon", "Search conversations", icon="search"), more_options(app))
    people = pick(rng, PEOPLE, int(rng.integers(6, 17)))
    tasks = []
    chats = []
    for k, who in enumerate(people):
        sid = f"ms-{k}"
        said = pick(rng, MESSAGES)
        when = f"{int(rng.integers(7, 23))}:{int(rng.integers(0, 60)):02d}"
        row = app.put(home, "body", El("chat_row", who, sub=said, meta=when, nav=sid, color=pick(rng, COLORS)))[0]
        chat = app.screen(sid, who, kind="chat")
        chat.list_id = f"{sid}-msgs"
        app.put(chat, "actions", El("icon", "Call", icon="share"), more_options(app))
        app.put(chat, "body", *[El("bubble", m, meta=pick(rng, ["me", "them"])) for m in pick(rng, MESSAGES, 3)])
        app.put(chat, "body", El("bubble", said, meta="them"))
        box = El("input", "Message", html_id=f"{sid}-in")
        send = El("icon", "Send", icon="send", do="add", input=box.html_id, list=chat.list_id)
        app.put(chat, "composer", box, send)
        box.enter = send.id
        app.templates[chat.list_id] = El("bubble", "", meta="me")
        chats.append((row, box, send, chat))
    for row, box, send, chat in pick(rng, chats[len(chats) // 3:], 2):      # older chats: lower in the list
        text = pick(rng, MESSAGES)
        who = row.label
        tasks.append(Task("messaging.send", phrase(rng, ['Send "{m}" to {p}', 'Text {f}: "{m}"',
                                                         "Tell {p} {m} in {a}"], m=text, p=who, f=who.split()[0],
                                                   a=app.name), [
            click(row, f"Click on the conversation with {who}", f"Open the chat with {who}", screen=chat.id),
            *fill(box, text, "message"),
            click(send, "Click on the send button", f"Send the message to {who}", list_has=(chat.list_id, text))]))
    row = pick(rng, chats)[0]
    tasks.append(Task("messaging.open", phrase(rng, ["Open my conversation with {p}", "Show the chat with {p}"],
                                               p=row.label),
                      [click(row, f"Click on {row.label}", f"Open the chat with {row.label}", screen=row.nav)]))
    return app, tasks
