import { render } from 'preact';
import { Popup } from '../../components/Popup';
import { connectStatePort } from '../../utils/state-port';
import './popup.css';

render(<Popup state={connectStatePort()} />, document.getElementById('app')!);
