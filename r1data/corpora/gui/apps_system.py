"""Settings, file browser and clock apps, with their tasks (see :mod:`r1data.corpora.gui.plans`)."""

from __future__ import annotations

import numpy as np

from r1data.corpora.gui.plans import COLORS, Task, click, fill, long_press, lower_half, more_options, phrase, pick
from r1data.corpora.gui.ui import App, El

SETTINGS = {
    "Network & internet": ["Wi-Fi", "Mobile data", "Airplane mode", "Data saver", "Wi-Fi calling"],
    "Connected devices": ["Bluetooth", "NFC", "Nearby Share", "Printing"],
    "Notifications": ["Do not disturb", "Notification dot on app icon", "Show on lock screen", "Bubbles"],
    "Battery": ["Battery saver", "Adaptive battery", "Battery percentage"],
    "Display": ["Dark theme", "Adaptive brightness", "Auto-rotate screen", "Night Light", "Screen saver"],
    "Sound & vibration": ["Vibrate for calls", "Touch sounds", "Dial pad tones", "Charging sounds"],
    "Location": ["Use location", "Wi-Fi scanning", "Bluetooth scanning", "Emergency location"],
    "Privacy": ["Show passwords", "Camera access", "Microphone access", "Clipboard access alerts"],
    "Accessibility": ["Select to Speak", "Magnification", "Color inversion", "Live Caption"],
    "System": ["Automatic updates", "Backup", "Developer options"],
    "Security": ["Screen lock sounds", "Find My Device", "App pinning"],
    "Storage": ["Storage manager", "Smart storage"],
}
CHOICES = {"Display": ("Font size", ["Small", "Default", "Large", "Largest"]),
           "Sound & vibration": ("Phone ringtone", ["Pixel Sounds", "Flutterby", "Crackle", "Beats", "Copycat"]),
           "System": ("Languages", ["English (US)", "English (UK)", "Deutsch", "Español", "Français", "Italiano"])}


def settings(rng: np.random.Generator) -> tuple[App, list[Task]]:
    app = App("settings", "Settings", "#5f6368", splash_ms=0)
    cats = pick(rng, list(SETTINGS), int(rng.integers(7, len(SETTINGS) + 1)))
    main = app.screen("set-main", "Settings", back=False)
    app.main = main.id
    app.put(main, "actions", El("icon", "Search settings", icon="search"))
    toggles: dict[str, list[El]] = {}
    rows: dict[str, El] = {}
    choice_rows: dict[str, tuple[El, list[El]]] = {}
    for k, cat in enumerate(cats):
        names = pick(rng, SETTINGS[cat], int(rng.integers(2, len(SETTINGS[cat]) + 1)))
        sid = f"set-{k}"
        rows[cat] = app.put(main, "body", El("nav_row", cat, sub=", ".join(names[:2]), nav=sid, icon="gear",
                                            color=pick(rng, COLORS)))[0]
        screen = app.screen(sid, cat)
        toggles[cat] = app.put(screen, "body", *[El("toggle_row", n, sub="On", meta="Off", checked=bool(rng.random() < 0.5))
                                                for n in names])
        if cat in CHOICES:
            title, options = CHOICES[cat]
            current = pick(rng, options)
            cid = f"{sid}-choice"
            nav = app.put(screen, "body", El("nav_row", title, sub=current, nav=cid))[0]
            sub = app.screen(cid, title)
            radios = app.put(sub, "body", *[El("radio_row", o, checked=o == current, radio=cid) for o in options])
            choice_rows[cat] = (nav, radios)
    tasks = []
    for cat in lower_half(rng, cats):
        for t in toggles[cat]:
            want = not t.checked
            state = "on" if want else "off"
            goal = phrase(rng, ["Turn {s} {n}", "Switch {n} {s}", "Please turn {s} {n} in the {c} settings",
                                "I want {n} turned {s}"], s=state, n=t.label, c=cat)
            tasks.append(Task("settings.toggle", goal, [
                click(rows[cat], f"Click on {cat}", f"Open the {cat} settings, where {t.label} is", screen=rows[cat].nav),
                click(t, f"Turn {state} {t.label}", f"Switch {t.label} {state}", checked=(t.id, want))]))
        if cat in choice_rows:
            nav, radios = choice_rows[cat]
            target = pick(rng, [r for r in radios if not r.checked])
            goal = phrase(rng, ["Set the {t} to {v}", "Change {t} to {v}", "Make {v} the {t}"], t=nav.label.lower(),
                          v=target.label)
            tasks.append(Task("settings.choice", goal, [
                click(rows[cat], f"Click on {cat}", f"Open the {cat} settings, which hold the {nav.label.lower()}",
                      screen=rows[cat].nav),
                click(nav, f"Click on {nav.label}", f"Open the {nav.label.lower()} options", screen=nav.nav),
                click(target, f"Select {target.label}", f"Choose {target.label}", checked=(target.id, True))]))
    return app, tasks


FOLDERS = {
    "Documents": ["report", "invoice", "notes", "budget", "resume", "contract", "minutes", "plan", "letter", "thesis",
                  "receipt", "agenda", "proposal", "summary", "checklist", "manual"],
    "Downloads": ["setup", "ticket", "boarding-pass", "menu", "brochure", "statement", "timetable", "form", "map",
                  "catalog", "guide", "voucher", "slides", "paper"],
    "Pictures": ["IMG_2041", "IMG_2042", "beach", "birthday", "screenshot_0912", "sunset", "family", "dog", "garden",
                 "hike", "concert", "wedding", "receipt_photo", "whiteboard"],
    "Music": ["morning-run", "focus-mix", "road-trip", "jazz-night", "lullaby", "workout", "piano-01", "live-set"],
    "Recordings": ["meeting-0312", "lecture-5", "voice-memo", "interview", "idea", "call-notes"],
}
EXT = {"Documents": [".pdf", ".docx", ".txt", ".xlsx"], "Downloads": [".pdf", ".zip", ".apk", ".png"],
       "Pictures": [".jpg", ".png"], "Music": [".mp3", ".flac"], "Recordings": [".m4a", ".wav"]}
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def files(rng: np.random.Generator) -> tuple[App, list[Task]]:
    app = App("files", pick(rng, ["Files", "File Manager", "My Files"]), "#1e88e5", splash_ms=int(rng.choice([0, 1200])))
    root = app.screen("fs-root", app.name, back=False)
    app.main = root.id
    app.put(root, "actions", El("icon", "Search files", icon="search"), more_options(app))
    folders = pick(rng, list(FOLDERS), int(rng.integers(3, len(FOLDERS) + 1)))
    tasks = []
    for k, folder in enumerate(folders):
        names = pick(rng, FOLDERS[folder], int(rng.integers(min(10, len(FOLDERS[folder])), len(FOLDERS[folder]) + 1)))
        fid = f"fs-{k}"
        row = app.put(root, "body", El("nav_row", folder, sub=f"{len(names)} files", nav=fid, icon="folder",
                                        color="#fbbc04"))[0]
        screen = app.screen(fid, folder)
        screen.list_id = f"{fid}-list"
        app.put(screen, "actions", El("icon", "Sort", icon="more"))
        dlg = app.dialog(f"{fid}-del", "Delete file?", "This will permanently delete", context=True)
        dlg.buttons = [app.add(El("dialog_button", "Cancel", do="close", style="flat"), dlg.id),
                       app.add(El("dialog_button", "Delete", do="delete", style="flat"), dlg.id)]
        entries = []
        for j, name in enumerate(names):
            ext = pick(rng, EXT[folder])
            size = f"{rng.uniform(0.1, 12):.1f} MB" if ext not in (".txt",) else f"{int(rng.integers(2, 90))} KB"
            date = f"{pick(rng, MONTHS)} {int(rng.integers(1, 29))}"
            did = f"{fid}-f{j}"
            entry = app.put(screen, "body", El("file_row", name + ext, sub=f"{size} · {date}", nav=did, icon="file",
                                               color="#90a4ae", longpress=dlg.id))[0]
            detail = app.screen(did, name + ext, kind="detail")
            app.put(detail, "actions", El("icon", "Share", icon="share"), El("icon", "Delete", icon="delete"))
            app.put(detail, "body", El("kv", "Size", sub=size), El("kv", "Modified", sub=date),
                    El("kv", "Location", sub=f"/storage/{folder}"))
            entries.append(entry)
        target = pick(rng, lower_half(rng, entries))
        open_folder = click(row, f"Click on the {folder} folder", f"Open {folder}, where {target.label} is",
                            screen=fid)
        tasks.append(Task("files.open", phrase(rng, ["Open {f} from my {d} folder", "Show me the details of {f} in {d}",
                                                     "Find the file {f} in {d}"], f=target.label, d=folder),
                          [open_folder, click(target, f"Click on {target.label}", f"Open {target.label}",
                                              screen=target.nav)]))
        victim = pick(rng, lower_half(rng, entries))
        tasks.append(Task("files.delete", phrase(rng, ["Delete {f} from {d}", "Remove the file {f} in my {d} folder"],
                                                 f=victim.label, d=folder), [
            click(row, f"Click on the {folder} folder", f"Open {folder}, where {victim.label} is", screen=fid),
            long_press(victim, f"Long press on {victim.label}", f"Bring up the options for {victim.label}",
                       dialog=dlg.id),
            click(dlg.buttons[1], "Click on Delete", f"Confirm deleting {victim.label}", dialog=None,
                  list_lacks=(screen.list_id, victim.label))]))
    return app, tasks


LABELS = ["Work", "Gym", "Take pills", "Wake up", "Meeting", "School run", "Yoga", "Call mum", "Water plants", "Nap"]


def clock(rng: np.random.Generator) -> tuple[App, list[Task]]:
    app = App("clock", pick(rng, ["Clock", "Alarms", "Alarm Clock"]), "#3949ab", splash_ms=int(rng.choice([0, 900])))
    main = app.screen("al-main", "Alarms", back=False)
    app.main = main.id
    main.list_id = "al-list"
    app.put(main, "actions", more_options(app))
    times = sorted({(int(h), int(m)) for h, m in zip(rng.integers(5, 23, 6), rng.choice([0, 15, 30, 45], 6))})
    alarms = app.put(main, "body", *[El("toggle_row", f"{h:02d}:{m:02d}", sub=pick(rng, LABELS), checked=bool(rng.random() < 0.6))
                                     for h, m in times])
    for a in alarms:
        a.longpress = "al-del"
    dlg = app.dialog("al-new", "New alarm")
    t_in = app.add(El("input", "Time (HH:MM)", html_id="al-time"), dlg.id)
    l_in = app.add(El("input", "Label", html_id="al-label"), dlg.id)
    dlg.inputs = [El("field", "Time", child=t_in), El("field", "Label", child=l_in)]
    dlg.buttons = [app.add(El("dialog_button", "Cancel", do="close", style="flat"), dlg.id),
                   app.add(El("dialog_button", "Save", do="save", input="al-time", extra="al-label", list="al-list",
                              style="flat"), dlg.id)]
    app.templates["al-list"] = El("toggle_row", "", sub=" ", checked=True, longpress="al-del", id="new")
    main.fab = app.add(El("fab", "Add alarm", icon="add", dialog=dlg.id), main.id)
    de = app.dialog("al-del", "Delete alarm?", "Delete the alarm at", context=True)
    de.buttons = [app.add(El("dialog_button", "Cancel", do="close", style="flat"), de.id),
                  app.add(El("dialog_button", "Delete", do="delete", style="flat"), de.id)]
    tasks = []
    a = pick(rng, alarms)
    state = "on" if not a.checked else "off"
    tasks.append(Task("clock.toggle", phrase(rng, ["Turn {s} the {t} alarm", "Switch {s} my {t} alarm ({l})"],
                                             s=state, t=a.label, l=a.sub),
                      [click(a, f"Turn {state} the {a.label} alarm", f"Switch the {a.label} alarm {state}",
                             checked=(a.id, not a.checked))]))
    h, m = int(rng.integers(5, 12)), int(rng.choice([0, 10, 20, 40, 50]))
    when, label = f"{h:02d}:{m:02d}", pick(rng, LABELS)
    tasks.append(Task("clock.add", phrase(rng, ["Add an alarm at {t} called {l}", "Set a new {t} alarm labelled {l}"],
                                          t=when, l=label), [
        click(main.fab, "Click on the add alarm button", "Open the new alarm dialog", dialog=dlg.id),
        *fill(t_in, when, "time"), *fill(l_in, label, "label"),
        click(dlg.buttons[1], "Click on Save", f"Save the {when} alarm", dialog=None, list_has=("al-list", when))]))
    d = pick(rng, alarms)
    tasks.append(Task("clock.delete", phrase(rng, ["Delete the {t} alarm", "Remove my alarm at {t}"], t=d.label), [
        long_press(d, f"Long press on the {d.label} alarm", f"Bring up the options of the {d.label} alarm",
                   dialog=de.id),
        click(de.buttons[1], "Click on Delete", f"Confirm deleting the {d.label} alarm", dialog=None,
              list_lacks=("al-list", d.label))]))
    return app, tasks
